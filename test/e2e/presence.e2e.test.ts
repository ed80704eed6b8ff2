import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChatClient, ServerFrameOf } from '@chat/client';
import { ErrorBody, UserPresence } from '@chat/contracts';
import { eventually, nextEvent, startSystem, token, type RunningSystem } from '../support/system';
import { harness } from '../support/harness';

/**
 * Presence and typing (docs/protocol.md, "Presence and typing"), on a system with a 1 s
 * heartbeat and a 300 ms grace so that the documented times are short.
 */
const HEARTBEAT_MS = 1_000;
const GRACE_MS = 300;

let sys: RunningSystem;
const { u, connect, http, closeAll } = harness(() => sys);

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), { CHAT_HEARTBEAT: `${HEARTBEAT_MS}ms`, CHAT_PRESENCE_GRACE: `${GRACE_MS}ms` });
}, 60_000);
afterEach(() => closeAll());
afterAll(async () => {
  await sys?.stop();
});

/** Every frame of a type a client receives, in order. */
function collect<T extends 'presence' | 'typing'>(c: ChatClient, type: T): Array<ServerFrameOf<T>> {
  const out: Array<ServerFrameOf<T>> = [];
  c.on('frame', (f) => {
    if (f.type === type) out.push(f as ServerFrameOf<T>);
  });
  return out;
}

/** A direct conversation, once its members are in the read model (presence and typing read them there). */
async function direct(a: ChatClient, b: string): Promise<string> {
  const { conversationId } = await a.createConversation({ kind: 'direct', members: [b] });
  await eventually(() => a.watchPresence([b]), (users) => users.length === 1);
  return conversationId;
}

async function metric(name: string, label: string): Promise<number> {
  const text = await (await fetch(`${sys.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('presence', () => {
  it('online while any device is connected, last seen when the last one left; only contacts are shown', async () => {
    const [viewer, ann, stranger] = [u('viewer'), u('ann'), u('stranger')];
    const v = await connect(viewer);
    await direct(v, ann);

    const frames = collect(v, 'presence');
    expect(await v.watchPresence([ann, stranger])).toEqual([{ userId: ann, online: false, lastSeenAt: null }]);

    const phone = await connect(ann, 'phone');
    await eventually(async () => frames.length, (n) => n === 1);
    expect(frames[0]).toEqual({ type: 'presence', userId: ann, online: true, lastSeenAt: null });
    // A second device, and a stranger coming online: nothing for the viewer (the offline below is the marker).
    const laptop = await connect(ann, 'laptop');
    await connect(stranger);
    phone.close();

    const before = Date.now();
    laptop.close();
    const offline = await nextEvent<ServerFrameOf<'presence'>>((f) => v.on('presence', f), (f) => !f.online);
    expect(frames.map((f) => [f.userId, f.online])).toEqual([
      [ann, true],
      [ann, false],
    ]);
    const lastSeen = Date.parse(offline.lastSeenAt!);
    expect(lastSeen).toBeGreaterThanOrEqual(before - 1_000);
    expect(lastSeen).toBeLessThanOrEqual(Date.now());

    // The same over HTTP; a user who shares nothing with the caller is 404 (existence does not leak).
    const r = await http(`/v1/users/${ann}/presence`, viewer);
    expect(r.status).toBe(200);
    expect(UserPresence.parse(await r.json())).toEqual({ userId: ann, online: false, lastSeenAt: offline.lastSeenAt });
    const hidden = await http(`/v1/users/${ann}/presence`, stranger);
    expect(hidden.status).toBe(404);
    expect(ErrorBody.parse(await hidden.json()).error.code).toBe('not_found');
    expect((await http(`/v1/users/${ann}/presence`, null)).status).toBe(401);
  });

  it('a device that stops answering pings is offline within two heartbeats and the grace', async () => {
    const [viewer, bo] = [u('viewer2'), u('bo')];
    const v = await connect(viewer);
    await direct(v, bo);
    await v.watchPresence([bo]);

    const ws = new WebSocket(`${sys.wsUrl}?access_token=${await token(bo, { deviceId: 'silent' })}`);
    await new Promise<void>((res, rej) => {
      ws.once('message', () => res());
      ws.once('error', rej);
    });
    await nextEvent<ServerFrameOf<'presence'>>((f) => v.on('presence', f), (f) => f.userId === bo && f.online);
    // The process is alive and the TCP connection open, but nothing is read any more: no pongs.
    const silentSince = Date.now();
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();

    await nextEvent<ServerFrameOf<'presence'>>((f) => v.on('presence', f), (f) => f.userId === bo && !f.online, 2 * HEARTBEAT_MS + GRACE_MS + 5_000);
    expect(Date.now() - silentSince).toBeLessThan(2 * HEARTBEAT_MS + GRACE_MS + 5_000);
    ws.terminate();
  });
});

describe('typing', () => {
  it("reaches the other member's devices, not the sender's; one start per 3 s; a non-member is refused", async () => {
    const [ann, bo, outsider] = [u('tann'), u('tbo'), u('tout')];
    const a = await connect(ann);
    const conversationId = await direct(a, bo);
    const b1 = await connect(bo, 'phone');
    const b2 = await connect(bo, 'laptop');
    const onPhone = collect(b1, 'typing');
    const onLaptop = collect(b2, 'typing');
    const own = collect(a, 'typing');

    a.typing(conversationId, 'start');
    await eventually(async () => onPhone.length + onLaptop.length, (n) => n === 2);
    expect(onPhone).toEqual([{ type: 'typing', conversationId, userId: ann, state: 'start' }]);

    const throttled = await metric('chat_typing_dropped_total', 'reason="throttled"');
    a.typing(conversationId, 'start');
    await eventually(() => metric('chat_typing_dropped_total', 'reason="throttled"'), (n) => n === throttled + 1);
    a.typing(conversationId, 'stop');
    await eventually(async () => onPhone.length, (n) => n === 2);
    expect(onPhone.map((f) => f.state)).toEqual(['start', 'stop']);
    expect(own).toEqual([]);

    const o = await connect(outsider);
    const refused = nextEvent<ServerFrameOf<'error'>>((f) => o.on('error', f));
    o.typing(conversationId, 'start');
    expect((await refused).code).toBe('forbidden');
  });

  it('is not forwarded in a group of more than 20 members', async () => {
    const [ann, bo] = [u('gann'), u('gbo')];
    const a = await connect(ann);
    const big = await a.createConversation({ kind: 'group', title: 'big', members: [bo, ...Array.from({ length: 19 }, (_, i) => u(`m${i}`))] });
    const conversationId = await direct(a, bo);
    await eventually(() => http(`/v1/conversations/${big.conversationId}/messages`, ann).then((r) => r.status), (s) => s === 200);
    const b = await connect(bo);
    const got = collect(b, 'typing');

    const dropped = await metric('chat_typing_dropped_total', 'reason="large_group"');
    a.typing(big.conversationId, 'start');
    await eventually(() => metric('chat_typing_dropped_total', 'reason="large_group"'), (n) => n === dropped + 1);
    a.typing(conversationId, 'start');
    await eventually(async () => got.length, (n) => n === 1);
    expect(got).toEqual([{ type: 'typing', conversationId, userId: ann, state: 'start' }]);
  });
});
