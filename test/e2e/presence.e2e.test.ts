import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChatClient, ServerFrame, ServerFrameOf } from '@chat/client';
import { BlockList, ErrorBody, names, UserPresence, UserSettings } from '@chat/contracts';
import { connectNats } from '@chat/nats';
import { metricValue } from '@chat/testing';
import { eventually, nextEvent, startEdge, startSystem, token, type RunningSystem } from '../support/system';
import { rawSocket } from '../support/socket';
import { harness } from '../support/harness';

/**
 * Presence and typing (docs/protocol.md, "Presence and typing"), on a system with a 1 s
 * heartbeat and a 300 ms grace so that the documented times are short.
 */
const HEARTBEAT_MS = 1_000;
const GRACE_MS = 300;
/** Every edge of these tests: short times, and blocks and settings read fresh (no edge cache). */
const SETTINGS = { CHAT_HEARTBEAT: `${HEARTBEAT_MS}ms`, CHAT_PRESENCE_GRACE: `${GRACE_MS}ms`, CHAT_BLOCKS_CACHE: '0ms' };

let sys: RunningSystem;
const { u, connect, http, closeAll } = harness(() => sys);

beforeAll(async () => {
  // Blocks and settings are read fresh (no edge cache): they apply as soon as the projector has them.
  sys = await startSystem(inject('chatEnv'), SETTINGS);
}, 60_000);
afterEach(() => closeAll());
afterAll(async () => {
  await sys?.stop();
});

/** Every presence change or typing signal a client is told of, in order (the SDK unpacks `presence.batch`). */
function collect<T extends 'presence' | 'typing'>(c: ChatClient, type: T): Array<ServerFrameOf<T>> {
  const out: Array<ServerFrameOf<T>> = [];
  c.on('frame', (f) => {
    if (f.type === type) out.push(f as ServerFrameOf<T>);
    if (type === 'presence' && f.type === 'presence.batch') for (const p of f.users) out.push({ type: 'presence', ...p } as ServerFrameOf<T>);
  });
  return out;
}

/** A direct conversation, once its members are in the read model (presence and typing read them there). */
async function direct(a: ChatClient, b: string): Promise<string> {
  const { conversationId } = await a.createConversation({ kind: 'direct', members: [b] });
  await eventually(() => a.watchPresence([b]), (users) => users.length === 1);
  return conversationId;
}

const metric = (name: string, labels: Record<string, string>): Promise<number> => metricValue(sys.ops.edge, name, labels);

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

  it('presence.batch for a client that asks for it (the SDK does), one presence frame per change for one that does not', async () => {
    const [viewer, ann] = [u('pbviewer'), u('pbann')];
    const v = await connect(viewer);
    await direct(v, ann);
    const raw: ServerFrame[] = [];
    v.on('frame', (f) => raw.push(f));
    await v.watchPresence([ann]);
    expect(v.hello?.features).toEqual(['receipt.batch', 'presence.batch']);

    // A client that knows only the base protocol, the same viewer on another device.
    const bare = await rawSocket(sys.wsUrl, viewer, 'bare');
    const bareFrames = bare.frames;
    expect(bareFrames[0]).not.toHaveProperty('features');
    bare.send({ type: 'presence.subscribe', ref: 'w1', userIds: [ann] });
    await eventually(async () => bareFrames.find((f) => f.type === 'presence.snapshot'), Boolean);

    const a = await connect(ann);
    await eventually(async () => bareFrames.filter((f) => f.type === 'presence').length, (n) => n === 1);
    expect(bareFrames.filter((f) => f.type === 'presence')).toEqual([{ type: 'presence', userId: ann, online: true, lastSeenAt: null }]);
    await eventually(async () => raw.filter((f) => f.type === 'presence.batch').length, (n) => n === 1);
    expect(raw.filter((f) => f.type === 'presence' || f.type === 'presence.batch')).toEqual([
      { type: 'presence.batch', users: [{ userId: ann, online: true, lastSeenAt: null }] },
    ]);
    a.close();
    bare.close();
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

    const throttled = await metric('chat_typing_dropped_total', { reason: 'throttled' });
    a.typing(conversationId, 'start');
    await eventually(() => metric('chat_typing_dropped_total', { reason: 'throttled' }), (n) => n === throttled + 1);
    a.typing(conversationId, 'stop');
    await eventually(async () => onPhone.length, (n) => n === 2);
    expect(onPhone.map((f) => f.state)).toEqual(['start', 'stop']);
    expect(own).toEqual([]);

    const o = await connect(outsider);
    const refused = nextEvent<ServerFrameOf<'error'>>((f) => o.on('error', f));
    o.typing(conversationId, 'start');
    expect((await refused).code).toBe('forbidden');
  });

  it('reaches members on this edge directly and members on another edge over NATS', async () => {
    const [ann, bo, cy] = [u('eann'), u('ebo'), u('ecy')];
    const other = await startEdge(sys, SETTINGS);
    const a = await connect(ann);
    const g = await a.createConversation({ kind: 'group', title: 'two edges', members: [bo, cy] });
    await eventually(() => http(`/v1/conversations/${g.conversationId}/messages`, ann).then((r) => r.status), (s) => s === 200);
    const here = await connect(bo);
    const there = await connect(cy, 'd1', { url: other.wsUrl });
    expect([here.hello?.edgeId, there.hello?.edgeId]).toEqual([a.hello?.edgeId, other.edgeId]);
    // Every typing signal between edges, as NATS carries it.
    const env = inject('chatEnv');
    const { subjects } = names(env['CHAT_NS'] ?? '');
    const nats = await connectNats(env['NATS_URL']!, 'typing-test');
    try {
      const between: string[] = [];
      const sub = nats.nc.subscribe(subjects.typing('*'), { callback: (_e, m) => void between.push(`${m.subject} ${m.json<{ to: string[] }>().to.join()}`) });
      await nats.nc.flush();
      const toHere = collect(here, 'typing');
      const toThere = collect(there, 'typing');
      a.typing(g.conversationId, 'start');
      await eventually(async () => toHere.length + toThere.length, (n) => n === 2);
      expect(toThere).toEqual([{ type: 'typing', conversationId: g.conversationId, userId: ann, state: 'start' }]);
      expect(toHere).toEqual(toThere);
      // One publish went out, for cy on the other edge; bo's signal never left the first edge.
      // (Both were decided in one turn, so a publish for bo would have come before the flush's answer.)
      await nats.nc.flush();
      expect(between).toEqual([`${subjects.typing(other.edgeId)} ${cy}`]);
      sub.unsubscribe();
    } finally {
      await nats.nc.close();
    }
  });

  it('a member removed from a group gets no more typing and is refused at once, though the edge keeps members for a minute', async () => {
    const [ann, bo, cy] = [u('rann'), u('rbo'), u('rcy')];
    const a = await connect(ann);
    const g = await a.createConversation({ kind: 'group', title: 'three', members: [bo, cy] });
    await eventually(() => http(`/v1/conversations/${g.conversationId}/messages`, ann).then((r) => r.status), (s) => s === 200);
    const b = await connect(bo);
    const c = await connect(cy);
    const toBo = collect(b, 'typing');
    const toCy = collect(c, 'typing');
    a.typing(g.conversationId, 'start');
    await eventually(async () => toBo.length + toCy.length, (n) => n === 2);

    // The removal's conversation.updated reaches this edge (cy's own frame says so) and the
    // edge's cached members follow it, before its one-minute lifetime is over.
    const removed = nextEvent<ServerFrame>(
      (f) => c.on('frame', f),
      (f) => f.type === 'conversation.updated' && f.changed.includes('member_removed'),
    ) as Promise<ServerFrameOf<'conversation.updated'>>;
    await a.removeMember(g.conversationId, cy);
    expect((await removed).members).not.toContain(cy);
    a.typing(g.conversationId, 'stop');
    // bo's stop is the same signal cy would be listed in.
    await eventually(async () => toBo.length, (n) => n === 2);
    expect(toCy.map((f) => f.state)).toEqual(['start']);
    const refused = nextEvent<ServerFrameOf<'error'>>((f) => c.on('error', f));
    c.typing(g.conversationId, 'start');
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

    const dropped = await metric('chat_typing_dropped_total', { reason: 'large_group' });
    a.typing(big.conversationId, 'start');
    await eventually(() => metric('chat_typing_dropped_total', { reason: 'large_group' }), (n) => n === dropped + 1);
    a.typing(conversationId, 'start');
    await eventually(async () => got.length, (n) => n === 1);
    expect(got).toEqual([{ type: 'typing', conversationId, userId: ann, state: 'start' }]);
  });
});

const json = (body: unknown): RequestInit => ({ method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('privacy', () => {
  it('last seen "nobody" shows the user offline to everyone and pushes nothing about them; "contacts" shows them again', async () => {
    const [viewer, ann, bo] = [u('pviewer'), u('pann'), u('pbo')];
    const v = await connect(viewer);
    await direct(v, ann);
    await direct(v, bo);

    expect(UserSettings.parse(await (await http('/v1/me/settings', ann)).json())).toEqual({ lastSeen: 'everyone' });
    const bad = await http('/v1/me/settings', ann, json({ lastSeen: 'friends' }));
    expect(bad.status).toBe(400);
    const set = await http('/v1/me/settings', ann, json({ lastSeen: 'nobody' }));
    expect([set.status, await set.json()]).toEqual([200, { lastSeen: 'nobody' }]);
    await eventually(async () => UserSettings.parse(await (await http('/v1/me/settings', ann)).json()).lastSeen, (x) => x === 'nobody');

    const frames = collect(v, 'presence');
    await v.watchPresence([ann, bo]);
    await connect(ann, 'phone');
    const b = await connect(bo);
    await eventually(async () => frames.length, (n) => n >= 1);
    expect(await v.watchPresence([ann, bo])).toEqual([
      { userId: ann, online: false, lastSeenAt: null },
      { userId: bo, online: true, lastSeenAt: null },
    ]);
    expect((await (await http(`/v1/users/${ann}/presence`, viewer)).json()) as unknown).toEqual({ userId: ann, online: false, lastSeenAt: null });
    const laptop = await connect(ann, 'laptop');
    laptop.close();
    await connect(ann, 'tablet');
    // The marker: bo going away reaches the viewer; nothing about ann came before it.
    b.close();
    await eventually(async () => frames.length, (n) => n >= 2);
    expect(frames.map((f) => [f.userId, f.online])).toEqual([
      [bo, true],
      [bo, false],
    ]);

    await http('/v1/me/settings', ann, json({ lastSeen: 'contacts' }));
    await eventually(() => v.watchPresence([ann]), (users) => users[0]?.online === true);
  });
});

describe('blocking', () => {
  it('a blocked user cannot message or open a direct conversation with the blocker, sees none of their presence or typing; unblocking undoes it', async () => {
    const [ann, bo, cy] = [u('bann'), u('bbo'), u('bcy')];
    const a = await connect(ann);
    const b = await connect(bo);
    const c = await connect(cy);
    const conversationId = await direct(b, ann);
    const group = await a.createConversation({ kind: 'group', title: 'three', members: [bo, cy] });
    await eventually(() => b.watchPresence([ann]), (users) => users.length === 1);

    const put = await http(`/v1/me/blocks/${bo}`, ann, { method: 'PUT' });
    expect(put.status).toBe(204);
    expect((await http(`/v1/me/blocks/${ann}`, ann, { method: 'PUT' })).status).toBe(400); // not oneself
    const list = await eventually(async () => BlockList.parse(await (await http('/v1/me/blocks', ann)).json()), (l) => l.blocks.length === 1);
    expect(list.blocks).toEqual([{ userId: bo, at: expect.any(String) }]);

    // Messages and a new direct conversation: forbidden, nothing stored.
    await expect(b.send({ conversationId, body: { text: 'let me in' } })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(b.createConversation({ kind: 'direct', members: [ann] })).rejects.toMatchObject({ code: 'forbidden' });
    const history = await (await http(`/v1/conversations/${conversationId}/messages`, ann)).json();
    expect(history.messages).toEqual([]);
    // The group still works (blocking is about the two of them, not about groups they share).
    await b.send({ conversationId: group.conversationId, body: { text: 'hello group' } });

    // Presence: ann is left out for bo.
    expect(await b.watchPresence([ann, cy])).toEqual([{ userId: cy, online: true, lastSeenAt: null }]);
    expect((await http(`/v1/users/${ann}/presence`, bo)).status).toBe(404);

    // Typing: ann's reaches cy, not bo (one publish to this edge carries both, so cy's is the marker).
    const onBo = collect(b, 'typing');
    const onCy = collect(c, 'typing');
    a.typing(group.conversationId, 'start');
    await eventually(async () => onCy.length, (n) => n === 1);
    expect(onBo).toEqual([]);

    // Unblocked: bo may write again.
    expect((await http(`/v1/me/blocks/${bo}`, ann, { method: 'DELETE' })).status).toBe(204);
    await eventually(async () => BlockList.parse(await (await http('/v1/me/blocks', ann)).json()).blocks.length, (n) => n === 0);
    const sent = await b.send({ conversationId, body: { text: 'friends again' } });
    expect(sent.seq).toBeGreaterThan(0);
  });
});
