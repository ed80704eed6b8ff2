import { mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChatClient } from '@chat/client';
import { ErrorBody } from '@chat/contracts';
import { freePort, REPO_ROOT } from '@chat/testing';
import { PageConfig } from '../../apps/web/src/shared';
import { connectClient, startSystem, type RunningSystem } from '../support/system';
import { chromiumPath, startWebApp, type WebApp } from '../support/web';

/**
 * The web client (apps/web) in a real browser: Debian's chromium driven by playwright-core,
 * two browser contexts as two people (each context is a browser profile: its own storage, so
 * its own device). Every assertion is on what the page shows, waited for with Playwright's
 * auto-waiting locators. Screenshots of each step: .data/test-output/web/<step>.png.
 */
const SHOTS = resolve(REPO_ROOT, '.data/test-output/web');
const WAIT_MS = 20_000;

let sys: RunningSystem;
let web: WebApp;
let browser: Browser;
const run = Math.random().toString(36).slice(2, 7);
const alice = `alice-${run}`;
const bob = `bob-${run}`;
const pageErrors: string[] = [];
const consoles = new Map<Page, string[]>();
const scripts: ChatClient[] = [];

beforeAll(async () => {
  rmSync(SHOTS, { recursive: true, force: true }); // this run's screenshots only
  mkdirSync(SHOTS, { recursive: true });
  const executablePath = await chromiumPath();
  const webPort = await freePort();
  // The edge lets only this page's origin in: the page's calls go through the web server with the browser's Origin.
  sys = await startSystem(inject('chatEnv'), { CHAT_PRESENCE_GRACE: '300ms', CHAT_ALLOWED_ORIGINS: `http://127.0.0.1:${webPort}` });
  web = await startWebApp({ ...sys.env, LOG_LEVEL: 'info', CHAT_WEB_PORT: String(webPort), CHAT_WEB_EDGE_URL: sys.httpUrl });
  browser = await chromium.launch({ executablePath, headless: true });
}, 600_000);

afterAll(async () => {
  for (const c of scripts) c.close();
  await browser?.close();
  await web?.stop();
  await sys?.stop();
});

// ---------------------------------------------------------------- helpers

async function shot(page: Page, step: string): Promise<void> {
  await page.screenshot({ path: resolve(SHOTS, `${step}.png`) });
}

/** A failed wait: a screenshot of the page as it was, and what its console said. */
async function failed(l: Locator, message: string): Promise<Error> {
  const page = l.page();
  const file = resolve(SHOTS, `failed-${message.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60)}.png`);
  await page.screenshot({ path: file }).catch(() => undefined);
  return new Error(`${message} (screenshot: ${file})\nconsole:\n${(consoles.get(page) ?? []).slice(-30).join('\n')}`);
}

/** Waits until the locator shows (Playwright's auto-waiting); fails with what it waited for. */
async function shows(l: Locator, what: string): Promise<void> {
  try {
    await l.first().waitFor({ state: 'visible', timeout: WAIT_MS });
  } catch (e) {
    throw await failed(l, `the page did not show ${what}: ${(e as Error).message.split('\n')[0]}`);
  }
}

async function gone(l: Locator, what: string): Promise<void> {
  try {
    await l.first().waitFor({ state: 'detached', timeout: WAIT_MS });
  } catch (e) {
    throw await failed(l, `the page still shows ${what}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** A new browser profile (a device) signed in by name. */
async function signIn(user: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${user}: ${e.message}`));
  const lines: string[] = [];
  consoles.set(page, lines);
  page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
  await page.goto(web.url);
  await page.getByLabel('Your name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await shows(page.locator(`.app[data-user="${user}"] .connection[data-connection="connected"]`), `${user} signed in and online`);
  return { context, page };
}

const message = (page: Page, text: string) => page.locator('li.message', { hasText: text });
/** An own message showing this tick: ✓ sent, ✓✓ delivered, ✓✓ (blue) read. */
const ownWithTick = (page: Page, text: string, tick: 'sent' | 'delivered' | 'read') =>
  page.locator(`li.message.own[data-tick="${tick}"]`).filter({ hasText: text }).filter({ has: page.locator(`.tick[data-tick="${tick}"]`) });
/** A message whose text is exactly this. */
const exactly = (page: Page, text: string) => page.locator('li.message .text').filter({ hasText: new RegExp(`^${text}$`) });
const conversation = (page: Page, name: string) => page.locator('li.conversation', { has: page.locator('.name', { hasText: name }) });
const badge = (page: Page, name: string, n: number) => conversation(page, name).locator(`.badge[data-unread="${n}"]`);

async function send(page: Page, text: string): Promise<void> {
  await page.locator('.composer input[name="text"]').fill(text);
  await page.locator('.composer input[name="text"]').press('Enter');
  await shows(message(page, text), `the sent message "${text}"`);
}

/** The texts of the open conversation's messages, in the order shown. */
const shownTexts = (page: Page) => page.locator('li.message:not(.system) .text').allTextContents();

/** A 480×320 PNG with a gradient, as a camera photo stand-in. */
async function photo(): Promise<Buffer> {
  const [w, h] = [480, 320];
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) px.set([Math.round((255 * x) / w), Math.round((255 * y) / h), 160], (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

// ---------------------------------------------------------------- the two people

describe('web client in a browser', () => {
  let a: { context: BrowserContext; page: Page };
  let b: { context: BrowserContext; page: Page };

  it('serves the page with the packaged SDK, and two people sign in by name', async () => {
    expect(web.output.join('')).toMatch(/"sdk":"package"/);
    a = await signIn(alice);
    b = await signIn(bob);
    await shot(a.page, '01-signed-in');
  }, 60_000);

  it('a chat: delivered (✓✓) while unread, read once opened; the unread badge clears', async () => {
    await a.page.getByLabel('Members').fill(bob);
    await a.page.getByRole('button', { name: 'Chat', exact: true }).click();
    await shows(a.page.locator('.chat-title', { hasText: bob }), 'the new chat with bob');
    await send(a.page, 'Hi Bob, this is Alice');

    await shows(badge(b.page, alice, 1), "bob's unread badge 1 on alice's chat");
    await shows(ownWithTick(a.page, 'Hi Bob, this is Alice', 'delivered'), 'delivered ticks (✓✓) on the first message');
    await shows(a.page.locator('.chat-status', { hasText: 'online' }), 'bob online in the header');
    await shot(a.page, '02-delivered');
    await shot(b.page, '03-unread-badge');

    await conversation(b.page, alice).click();
    await shows(message(b.page, 'Hi Bob, this is Alice'), 'the message on bob’s screen');
    await shows(ownWithTick(a.page, 'Hi Bob, this is Alice', 'read'), 'read ticks once bob opened the chat');
    await gone(conversation(b.page, alice).locator('.badge'), "bob's unread badge");
    await shot(a.page, '04-read');

    await send(b.page, 'Hello Alice!');
    await shows(message(a.page, 'Hello Alice!'), 'bob’s reply on alice’s screen');
    await shows(ownWithTick(b.page, 'Hello Alice!', 'read'), 'read ticks on bob’s reply (alice has the chat open)');
  }, 90_000);

  it('typing shows in the other person’s header and ends when the draft is cleared', async () => {
    await b.page.locator('.composer input[name="text"]').pressSequentially('typing a lo', { delay: 20 });
    await shows(a.page.locator('.chat-status[data-typing]', { hasText: `${bob} is typing…` }), 'bob typing');
    await shot(a.page, '05-typing');
    await b.page.locator('.composer input[name="text"]').fill('');
    await gone(a.page.locator('.chat-status[data-typing]'), 'the typing indicator');
  }, 60_000);

  it('one goes offline (browser closed): sends stay ✓; back on a new device, everything arrives (✓✓, then read)', async () => {
    await b.context.close();
    await shows(a.page.locator('.chat-status', { hasText: 'last seen' }), 'bob last seen after he left');
    await send(a.page, 'Are you there?');
    await send(a.page, 'Call me when you are back');
    await shows(ownWithTick(a.page, 'Call me when you are back', 'sent'), 'a single tick (✓) while bob is away');
    await shows(ownWithTick(a.page, 'Are you there?', 'sent'), 'a single tick (✓) on the first one too');
    await shot(a.page, '06-offline-sent');

    b = await signIn(bob);
    await shows(badge(b.page, alice, 2), 'the two missed messages as unread');
    await shows(ownWithTick(a.page, 'Call me when you are back', 'delivered'), 'delivered ticks once bob is back');
    await shows(a.page.locator('.chat-status', { hasText: 'online' }), 'bob online again');
    await conversation(b.page, alice).click();
    await shows(message(b.page, 'Call me when you are back'), 'the missed messages on bob’s screen');
    expect(await shownTexts(b.page)).toEqual(['Hi Bob, this is Alice', 'Hello Alice!', 'Are you there?', 'Call me when you are back']);
    await shows(ownWithTick(a.page, 'Call me when you are back', 'read'), 'read ticks after bob read them');
    await shows(ownWithTick(a.page, 'Are you there?', 'read'), 'read ticks on the earlier one too');
    await shot(b.page, '07-back-online');
    await shot(a.page, '08-read-after-return');
  }, 120_000);

  it('a group with a photo: uploaded, sent, shown as a thumbnail on both sides', async () => {
    await a.page.getByLabel('Members').fill(bob);
    await a.page.getByLabel('Group title').fill(`Weekend ${run}`);
    await a.page.getByRole('button', { name: 'New group' }).click();
    await shows(a.page.locator('.chat-title', { hasText: `Weekend ${run}` }), 'the new group');
    await a.page.locator('.composer input[name="text"]').fill('Look at this');
    await a.page.locator('.composer input[type="file"]').setInputFiles({ name: 'gradient.png', mimeType: 'image/png', buffer: await photo() });
    await shows(a.page.locator('li.message.own[data-tick] img.thumb[data-state="loaded"]'), 'the photo on alice’s screen');
    await shows(message(a.page, 'Look at this'), 'the caption');

    await shows(badge(b.page, `Weekend ${run}`, 1), 'the group in bob’s list with one unread');
    await conversation(b.page, `Weekend ${run}`).click();
    const thumb = b.page.locator('li.message.theirs img.thumb[data-state="loaded"]');
    await shows(thumb, 'the photo on bob’s screen');
    // The server's thumbnail (longest side 320 px), at the size the message says it has.
    const [natural, declared] = await thumb.evaluate((img: HTMLImageElement) => [
      [img.naturalWidth, img.naturalHeight],
      [Number(img.getAttribute('width')), Number(img.getAttribute('height'))],
    ]);
    expect(natural).toEqual(declared);
    expect(natural![0]).toBe(320);
    await shows(b.page.locator('li.message.theirs .sender', { hasText: alice }), 'the sender’s name in the group');
    await shows(ownWithTick(a.page, 'Look at this', 'read'), 'read ticks on the photo');
    await shot(b.page, '09-group-photo');
  }, 90_000);

  it('history scrolls back page by page', async () => {
    // 60 messages from alice's phone (the SDK in Node), more than one history page (50).
    const phone = await connectClient(sys, alice, 'phone');
    scripts.push(phone);
    const { conversationId } = await phone.createConversation({ kind: 'group', members: [bob], title: `History ${run}` });
    for (let i = 1; i <= 60; i++) await phone.send({ conversationId, body: { text: `old message ${i}` } });

    await shows(badge(b.page, `History ${run}`, 60), 'sixty unread in the new group');
    await conversation(b.page, `History ${run}`).click();
    await shows(message(b.page, 'old message 60'), 'the newest message');
    await shows(b.page.locator('.history-top[data-has-more]'), 'that older messages exist');
    expect(await exactly(b.page, 'old message 1').count()).toBe(0);

    await b.page.locator('ol.messages').evaluate((el) => el.scrollTo({ top: 0 }));
    await exactly(b.page, 'old message 1').waitFor({ state: 'attached', timeout: WAIT_MS });
    await shows(b.page.locator('.history-top', { hasText: 'Beginning of the conversation' }), 'the beginning of the conversation');
    const texts = await shownTexts(b.page);
    expect(texts).toEqual(Array.from({ length: 60 }, (_, i) => `old message ${i + 1}`));
    await b.page.locator('ol.messages').evaluate((el) => el.scrollTo({ top: 0 }));
    await shot(b.page, '10-history');
  }, 90_000);

  it('a reload keeps the sign-in and shows the history with its ticks', async () => {
    await a.page.reload();
    await shows(a.page.locator(`.app[data-user="${alice}"] .connection[data-connection="connected"]`), 'alice still signed in');
    await conversation(a.page, bob).click();
    await shows(message(a.page, 'Call me when you are back'), 'the history after the reload');
    expect(await shownTexts(a.page)).toEqual(['Hi Bob, this is Alice', 'Hello Alice!', 'Are you there?', 'Call me when you are back']);
    await shows(ownWithTick(a.page, 'Call me when you are back', 'read'), 'read ticks from the receipts after the reload');
    await shows(ownWithTick(a.page, 'Hi Bob, this is Alice', 'read'), 'read ticks on the oldest message too');
    await shot(a.page, '11-reloaded');
  }, 60_000);

  it('network off: a send waits (◷) in the outbox and goes out when the network is back', async () => {
    await a.context.setOffline(true);
    await shows(a.page.locator('.connection:not([data-connection="connected"])'), 'alice offline');
    await a.page.locator('.composer input[name="text"]').fill('Sent from a tunnel');
    await a.page.locator('.composer input[name="text"]').press('Enter');
    await shows(a.page.locator('li.message.own[data-tick="pending"]', { hasText: 'Sent from a tunnel' }), 'the message waiting (◷)');
    await shot(a.page, '12-offline-pending');
    await a.context.setOffline(false);
    await shows(a.page.locator('.connection[data-connection="connected"]'), 'alice online again');
    await shows(ownWithTick(a.page, 'Sent from a tunnel', 'delivered'), 'the message delivered once the network is back');
    await shows(badge(b.page, alice, 1), 'the message in bob’s list');
    expect(pageErrors).toEqual([]);
  }, 60_000);
});

describe('web client with NODE_ENV=production', () => {
  it('refuses the development sign-in (404) and the page asks for a token', async () => {
    const prod = await startWebApp({ ...sys.env, NODE_ENV: 'production', CHAT_WEB_EDGE_URL: sys.httpUrl });
    try {
      const res = await fetch(`${prod.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'mallory' }) });
      expect(res.status).toBe(404);
      expect(ErrorBody.parse(await res.json()).error.code).toBe('not_found');
      expect(PageConfig.parse(await (await fetch(`${prod.url}/config.json`)).json()).devSignIn).toBe(false);

      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(prod.url);
      await shows(page.getByText('The development sign-in is off on this server'), 'the notice that name sign-in is off');
      await shows(page.getByLabel('Token'), 'the token field');
      expect(await page.getByLabel('Your name').count()).toBe(0);
      await shot(page, '13-production-sign-in');
      await context.close();
    } finally {
      await prod.stop();
    }
  }, 300_000);
});
