import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChatClient, ServerFrameOf } from '@chat/client';
import { names } from '@chat/contracts';
import { ConnectionRegistry, createRedis, type Redis } from '@chat/redis';
import { connectNats, type Nats } from '@chat/nats';
import { createTestNamespace, type TestNamespace } from '@chat/testing';
import { eventually, nextEvent, startApp, startSystem, type RunningSystem } from '../support/system';
import { harness, text, type Json } from '../support/harness';
import { startPushGateway } from '../support/push';

/**
 * Conversations outlive message retention (CHAT_MAX_AGE = 10 s here): once every event of a
 * conversation has aged out of CHAT_EVENTS, the command service still knows it from its
 * snapshots, after a crash and with no cache at all.
 */
const MAX_AGE_MS = 10_000;

let ns: TestNamespace;
let sys: RunningSystem;
let nats: Nats;
let gateway: Awaited<ReturnType<typeof startPushGateway>>;
let redis: Redis;
const { u, connect, getJson, closeAll } = harness(() => sys);

beforeAll(async () => {
  gateway = await startPushGateway();
  ns = await createTestNamespace(inject('chatEnv'), { maxAgeMs: MAX_AGE_MS });
  sys = await startSystem(ns.env, { CHAT_PUSH_URL: gateway.url, CHAT_PUSH_COLLAPSE_WINDOW: '100ms' });
  nats = await connectNats(ns.natsUrl, 'snapshots-e2e');
  redis = createRedis(ns.redisUrl, names(ns.ns).redisPrefix);
}, 60_000);

// A failed test leaves no client connected for the next one (they check who is offline).
afterEach(() => closeAll());

afterAll(async () => {
  await sys?.stop();
  await nats?.nc.close();
  redis?.disconnect();
  await gateway?.close();
  await ns?.dispose();
});

const n = () => names(ns.ns);

/** Waits until CHAT_EVENTS holds nothing: every event so far has aged out. */
async function eventsGone(): Promise<void> {
  await eventually(async () => (await nats.jsm.streams.info(n().streams.events)).state.messages, (m) => m === 0, 4 * MAX_AGE_MS);
}

/** Kills the command service (no graceful shutdown: nothing is flushed) and starts a new one. */
async function crashCommandService(extra: Record<string, string> = {}): Promise<void> {
  const old = sys.apps.find((a) => a.name === 'command' && a.child.exitCode === null && a.child.signalCode === null)!;
  await old.stop('SIGKILL');
  sys.apps.push(startApp('command', { ...sys.env, ...extra }));
}

/** Sends as a client with an outbox does: the same clientMsgId again until the (new) command service answers. */
async function sendUntilAccepted(client: ChatClient, conversationId: string, body: string): Promise<ServerFrameOf<'message.sent'>> {
  const clientMsgId = `${body}-${Math.random().toString(36).slice(2)}`;
  let answer: ServerFrameOf<'message.sent'> | undefined;
  await eventually(
    async () => (answer = await client.send({ conversationId, body: text(body), clientMsgId }).catch(() => undefined)),
    (a) => a !== undefined,
    30_000,
  );
  return answer!;
}

const live = (client: ChatClient, conversationId: string, seq: number) =>
  nextEvent<ServerFrameOf<'message.new'>>((f) => client.on('message', f), (m) => m.conversationId === conversationId && m.seq === seq, 30_000);

const list = async (user: string): Promise<Json[]> => (await getJson('/v1/conversations', user)).conversations;

/** A list entry without what expiry changes (the preview text and its flag). */
const withoutPreview = (c: Json): Json => ({ ...c, lastMessage: { ...c.lastMessage, preview: undefined, expired: undefined } });

describe('conversations outlive CHAT_MAX_AGE', () => {
  let group = '';
  let direct = '';
  const lists: Record<string, Json[]> = {};

  it('after every event aged out and the command service crashed: the next send gets the next seq, members get it live and by sync, the direct pair keeps its id', async () => {
    const [alice, bob, carol] = [u('alice'), u('bob'), u('carol')];
    const a = await connect(alice);
    const b = await connect(bob);
    group = (await a.createConversation({ kind: 'group', members: [bob, carol], title: 'outlives' })).conversationId;
    direct = (await a.createConversation({ kind: 'direct', members: [bob] })).conversationId;
    expect(await a.send({ conversationId: group, body: text('g1') })).toMatchObject({ seq: 1 });
    expect(await b.send({ conversationId: group, body: text('g2') })).toMatchObject({ seq: 2 });
    expect(await a.send({ conversationId: direct, body: text('d1') })).toMatchObject({ seq: 1 });
    expect(await b.mute(group, true)).toMatchObject({ muted: true });
    // The read models have everything (each conversation's last message projected); what each
    // member's list shows now.
    const last: Record<string, Record<string, number>> = { [alice]: { [group]: 2, [direct]: 1 }, [bob]: { [group]: 2, [direct]: 1 }, [carol]: { [group]: 2 } };
    for (const user of [alice, bob, carol]) {
      const want = Object.entries(last[user]!);
      lists[user] = await eventually(
        () => list(user),
        (l) => l.length === want.length && want.every(([id, seq]) => l.some((c: Json) => c.conversationId === id && c.lastMessage?.seq === seq)),
      );
    }

    await eventsGone();
    // The read models too: the sweeper removed the expired messages, not the conversations,
    // their members or the unread counts; the previews now say "expired".
    for (const user of [alice, bob, carol]) {
      const now = await eventually(() => list(user), (l) => l.length > 0 && l.every((c: Json) => c.lastMessage?.expired === true));
      expect(now.map(withoutPreview)).toEqual(lists[user]!.map(withoutPreview));
    }
    await crashCommandService();

    const g3 = live(b, group, 3);
    expect(await sendUntilAccepted(a, group, 'g3')).toMatchObject({ conversationId: group, seq: 3 });
    expect(await g3).toMatchObject({ senderId: alice, body: text('g3') });
    const d2 = live(b, direct, 2);
    expect(await a.send({ conversationId: direct, body: text('d2') })).toMatchObject({ seq: 2 });
    await d2;
    // Creating the same direct conversation again returns it, and its timeline goes on.
    expect(await a.createConversation({ kind: 'direct', members: [bob] })).toMatchObject({ conversationId: direct });
    expect(await a.send({ conversationId: direct, body: text('d3') })).toMatchObject({ seq: 3 });
    // Members and roles too: a non-member is refused, the owner can still rename.
    const mallory = await connect(u('mallory'));
    await expect(mallory.send({ conversationId: group, body: text('x') })).rejects.toMatchObject({ code: 'forbidden' });
    expect(await a.updateConversation(group, { title: 'still here' })).toMatchObject({ title: 'still here' });

    // A new device of bob's syncs everything the stream and read models still hold.
    const b2 = await connect(bob, 'd2');
    const frames = await eventually(
      async () => ((await b2.syncOnce(null)) as ServerFrameOf<'sync.batch'>).frames,
      (f) => f.some((x: Json) => x.conversationId === direct && x.seq === 3),
    );
    const seqs = (id: string) => frames.filter((f: Json) => f.type === 'message.new' && f.conversationId === id).map((f: Json) => f.seq);
    expect(seqs(group)).toContain(3);
    expect(seqs(direct)).toEqual(expect.arrayContaining([2, 3]));
  }, 120_000);

  it('a mute outlives its event: still muted after it aged out, and an unmute turns pushes back on', async () => {
    const [alice, bob, carol] = [u('alice'), u('bob'), u('carol')];
    const a = await connect(alice);
    await eventually(() => new ConnectionRegistry(redis, 90_000).devices(bob), (d) => d.length === 0);
    // bob and carol are offline; carol (not muted) gets a push for this message.
    const muted = await a.send({ conversationId: group, body: text('while muted') });
    await eventually(async () => gateway.pushesTo(carol).filter((p) => p.body.data?.seq === muted.seq), (p) => p.length === 1, 30_000);

    const b = await connect(bob);
    expect(await b.mute(group, false)).toMatchObject({ conversationId: group, muted: false });
    b.close();
    // Offline once the edge has unregistered the device (the notifier skips online users).
    await eventually(() => new ConnectionRegistry(redis, 90_000).devices(bob), (d) => d.length === 0);
    // The unmute is in the stream before the next message, and the notifier decides a push only
    // once the read models (the mute table included) have that message.
    const after = await a.send({ conversationId: group, body: text('after unmute') });
    await eventually(async () => gateway.pushesTo(bob).filter((p) => p.body.data?.seq === after.seq), (p) => p.length === 1, 30_000);
    // bob's pushes are handled in order: by now the one for the message sent while he was muted
    // (the mute event long gone) was decided, and it was not sent.
    expect(gateway.pushesTo(bob).filter((p) => p.body.data?.conversationId === group).map((p) => p.body.data.seq)).toEqual([after.seq]);
  }, 120_000);

  it('with no aggregate cache at all (every command reloads from snapshot + events), after a crash and ageing', async () => {
    const [alice, bob] = [u('alice2'), u('bob2')];
    await crashCommandService({ CHAT_AGGREGATE_CACHE_BYTES: '0' });
    const a = await connect(alice);
    const b = await connect(bob);
    const conversationId = (await sendUntilAcceptedCreate(a, bob)).conversationId;
    for (const [i, who] of [a, b, a].entries()) expect(await who.send({ conversationId, body: text(`m${i + 1}`) })).toMatchObject({ seq: i + 1 });
    await eventsGone();
    await crashCommandService({ CHAT_AGGREGATE_CACHE_BYTES: '0' });
    const next = live(b, conversationId, 4);
    expect(await sendUntilAccepted(a, conversationId, 'm4')).toMatchObject({ seq: 4 });
    await next;
    expect(await a.createConversation({ kind: 'direct', members: [bob] })).toMatchObject({ conversationId });
    expect(await b.send({ conversationId, body: text('m5') })).toMatchObject({ seq: 5 });
  }, 120_000);

  it('`npm run rebuild` after the creation events aged out: the lists and memberships are the same as before', async () => {
    const users = [u('alice'), u('bob'), u('carol'), u('alice2'), u('bob2')];
    await eventsGone();
    const before: Record<string, Json[]> = {};
    for (const user of users) before[user] = await eventually(() => list(user), (l) => l.length > 0 && l.every((c: Json) => c.lastMessage?.expired === true));
    expect(before[u('bob')]!.map((c: Json) => c.conversationId).sort()).toEqual([group, direct].sort());

    const projector = sys.apps.find((a) => a.name === 'projector' && a.child.exitCode === null)!;
    expect(await projector.stop()).toBe(0);
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'rebuild'], { env: { ...process.env, ...sys.env }, cwd: process.cwd() });
    expect(stdout).toMatch(/seeded: [1-9]\d* conversations/);
    sys.apps.push(startApp('projector', sys.env));

    for (const user of users) expect(await eventually(() => list(user), (l) => l.length === before[user]!.length)).toEqual(before[user]);
  }, 120_000);

  /** conversation.create, retried until the (restarted) command service answers. */
  async function sendUntilAcceptedCreate(a: ChatClient, other: string) {
    let created: ServerFrameOf<'conversation.created'> | undefined;
    await eventually(async () => (created = await a.createConversation({ kind: 'direct', members: [other] }).catch(() => undefined)), (c) => c !== undefined, 30_000);
    return created!;
  }

  void lists;
});
