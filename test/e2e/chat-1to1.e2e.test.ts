import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ServerFrameOf } from '@chat/client';
import { ConversationListPage, ErrorBody, HistoryPage, ReceiptsBody } from '@chat/contracts';
import { eventually, nextEvent, percentile, startSystem, token, type RunningSystem } from '../support/system';
import { rawSocket as openRawSocket } from '../support/socket';
import { harness, text, type Json } from '../support/harness';
import { upgradeStatus } from '../support/upgrade';

let sys: RunningSystem;
const { u, connect, http, getJson, closeAll } = harness(() => sys);
type J = Json;

const rawSocket = (user: string) => openRawSocket(sys.wsUrl, user);

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'));
}, 60_000);

afterAll(async () => {
  closeAll();
  await sys?.stop();
});

describe('1:1 chat through JetStream', () => {
  it('creates a direct conversation with the same id from either side', async () => {
    const alice = await connect(u('alice'));
    const bob = await connect(u('bob'));
    const a = await alice.createConversation({ kind: 'direct', members: [u('bob')] });
    const b = await bob.createConversation({ kind: 'direct', members: [u('alice')] });
    expect(a.conversationId).toMatch(/^d-/);
    expect(b.conversationId).toBe(a.conversationId);
    expect(new Set(a.members)).toEqual(new Set([u('alice'), u('bob')]));
  });

  it('delivers a message live, then delivered and read receipts to the sender', async () => {
    const alice = await connect(u('alice2'));
    const bob = await connect(u('bob2'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob2')] });
    const incoming = nextEvent<ServerFrameOf<'message.new'>>((f) => bob.on('message', f));
    const sent = await alice.send({ conversationId, body: text('hello bob') });
    expect(sent).toMatchObject({ type: 'message.sent', conversationId, seq: 1 });
    const msg = await incoming;
    expect(msg).toMatchObject({ conversationId, seq: 1, messageId: sent.messageId, senderId: u('alice2'), body: text('hello bob') });
    expect(typeof msg.cursor).toBe('string');

    const delivered = nextEvent<ServerFrameOf<'receipt'>>((f) => alice.on('receipt', f), (r) => r.status === 'delivered');
    bob.markDelivered(conversationId, 1);
    expect(await delivered).toMatchObject({ conversationId, userId: u('bob2'), status: 'delivered', upToSeq: 1 });
    const read = nextEvent<ServerFrameOf<'receipt'>>((f) => alice.on('receipt', f), (r) => r.status === 'read');
    bob.markRead(conversationId, 1);
    expect(await read).toMatchObject({ conversationId, userId: u('bob2'), status: 'read', upToSeq: 1 });

    const receipts = await eventually(
      () => getJson(`/v1/conversations/${conversationId}/messages/${sent.messageId}/receipts`, u('alice2')),
      (r: J) => r.read?.length === 1,
    );
    expect(receipts).toMatchObject({ delivered: [{ userId: u('bob2') }], read: [{ userId: u('bob2') }], pending: [] });
  });

  it('measures send → deliver latency over 100 sequential messages', async () => {
    const alice = await connect(u('alice3'));
    const bob = await connect(u('bob3'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob3')] });
    const latencies: number[] = [];
    for (let i = 1; i <= 100; i++) {
      const got = nextEvent<ServerFrameOf<'message.new'>>((f) => bob.on('message', f), (m) => m.seq === i);
      const t0 = performance.now();
      await alice.send({ conversationId, body: text(`m${i}`) });
      await got;
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const figures = { n: latencies.length, p50: +percentile(latencies, 50).toFixed(1), p99: +percentile(latencies, 99).toFixed(1), max: +latencies[99]!.toFixed(1) };
    console.log(`send→deliver latency ms (100 sequential 1:1 messages): ${JSON.stringify(figures)}`);
    expect(latencies).toHaveLength(100);
  });

  it('an offline recipient gets everything in order with sync, and only newer items with its cursor', async () => {
    const alice = await connect(u('alice4'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('carol4')] });
    for (let i = 1; i <= 30; i++) await alice.send({ conversationId, body: text(`offline ${i}`) });

    const carol = await connect(u('carol4'));
    const got: number[] = [];
    carol.on('message', (m) => got.push(m.seq));
    await eventually(async () => carol.syncAll(7).then(() => got.length), (n) => n >= 30);
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const cursor = carol.cursor;
    expect(cursor).not.toBeNull();
    carol.close();

    for (let i = 31; i <= 35; i++) await alice.send({ conversationId, body: text(`later ${i}`) });
    const again = await connect(u('carol4'));
    again.cursor = cursor;
    const later: number[] = [];
    again.on('message', (m) => later.push(m.seq));
    await eventually(async () => again.syncAll().then(() => later.length), (n) => n >= 5);
    expect(later).toEqual([31, 32, 33, 34, 35]);

    const batch = await again.syncOnce(null, 10);
    expect(batch.type).toBe('sync.batch');
    if (batch.type === 'sync.batch') {
      expect(batch.frames).toHaveLength(10);
      expect(batch.hasMore).toBe(true);
    }
  });

  it('answers a repeated clientMsgId with the original message and stores nothing new', async () => {
    const alice = await connect(u('alice5'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob5')] });
    const first = await alice.send({ conversationId, body: text('once'), clientMsgId: 'fixed-1' });
    const again = await alice.send({ conversationId, body: text('once'), clientMsgId: 'fixed-1' });
    expect(again).toEqual(first);
    const next = await alice.send({ conversationId, body: text('twice') });
    expect(next.seq).toBe(first.seq + 1);
    const history = await eventually(
      () => getJson(`/v1/conversations/${conversationId}/messages`, u('alice5')),
      (h: J) => h.messages?.length === 2,
    );
    expect(history.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2]);
  });

  it('answers malformed frames with bad_request and keeps the socket usable', async () => {
    const alice = await connect(u('alice6'));
    const errors: Array<ServerFrameOf<'error'>> = [];
    alice.on('error', (e) => errors.push(e));
    alice.sendRaw('{not json');
    alice.sendRaw(JSON.stringify({ type: 'no.such.type' }));
    alice.sendRaw(JSON.stringify({ type: 'message.send', conversationId: 'x' }));
    alice.sendRaw(JSON.stringify([1, 2, 3]));
    await eventually(async () => errors.length, (n) => n >= 4);
    expect(errors.map((e) => e.code)).toEqual(['bad_request', 'bad_request', 'bad_request', 'bad_request']);
    await expect(alice.ping()).resolves.toBeUndefined();
    await expect(alice.send({ conversationId: 'd-missing', body: text('x'.repeat(20_000)) })).rejects.toMatchObject({ code: 'payload_too_large' });
    await expect(alice.ping()).resolves.toBeUndefined();
  });

  it('closes with 1003 on a binary frame and 1009 on an oversized one', async () => {
    const a = await rawSocket(u('alice7'));
    a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await a.closed).toBe(1003);
    const b = await rawSocket(u('alice7'));
    b.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(70 * 1024) }));
    expect(await b.closed).toBe(1009);
  });

  it('refuses non-members on WebSocket and HTTP', async () => {
    const alice = await connect(u('alice8'));
    const mallory = await connect(u('mallory8'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob8')] });
    const sent = await alice.send({ conversationId, body: text('private') });
    await expect(mallory.send({ conversationId, body: text('let me in') })).rejects.toMatchObject({ code: 'forbidden' });
    const errs = nextEvent<ServerFrameOf<'error'>>((f) => mallory.on('error', f));
    mallory.markRead(conversationId, 1);
    expect((await errs).code).toBe('forbidden');
    await eventually(async () => (await http(`/v1/conversations/${conversationId}/messages`, u('alice8'))).status, (s) => s === 200);
    expect((await http(`/v1/conversations/${conversationId}/messages`, u('mallory8'))).status).toBe(403);
    expect((await http(`/v1/conversations/${conversationId}/messages/${sent.messageId}/receipts`, u('mallory8'))).status).toBe(403);
    expect((await http(`/v1/conversations/d-nope/messages`, u('mallory8'))).status).toBe(404);
    await expect(mallory.send({ conversationId: 'd-nope', body: text('?') })).rejects.toMatchObject({ code: 'not_found' });
    const list = await getJson('/v1/conversations', u('mallory8'));
    expect(list.conversations).toEqual([]);
  });

  it('refuses bad tokens with 401 on an upgrade with the Authorization header, and on HTTP', async () => {
    const noneAlg = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'eve', exp: 4102444800 })).toString('base64url')}.`;
    const bad = {
      missing: '',
      wrongSecret: await token('eve', { secret: 'not-the-secret' }),
      expired: await token('eve', { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      algNone: noneAlg,
      garbage: 'abc.def.ghi',
      longSub: await token('x'.repeat(65)),
    };
    for (const [name, t] of Object.entries(bad)) {
      // With the header, a refusal is HTTP 401 on the upgrade; in the query string (browsers) it is in-band (auth.e2e).
      expect([name, await upgradeStatus(sys.wsUrl, { authorization: `Bearer ${t}` })]).toEqual([name, 401]);
      const res = await fetch(`${sys.httpUrl}/v1/conversations`, { headers: t ? { authorization: `Bearer ${t}` } : {} });
      expect([name, res.status]).toEqual([name, 401]);
      expect((await res.json()).error.code).toBe('unauthorized');
    }
    expect(await upgradeStatus(sys.wsUrl, { authorization: `Bearer ${await token('eve')}` })).toBe(101);
  });

  it('lists conversations newest first with unread counts, and pages history', async () => {
    const alice = await connect(u('alice9'));
    const c1 = await alice.createConversation({ kind: 'direct', members: [u('bob9')] });
    const c2 = await alice.createConversation({ kind: 'direct', members: [u('carol9')] });
    for (let i = 1; i <= 5; i++) await alice.send({ conversationId: c1.conversationId, body: text(`one ${i}`) });
    await alice.send({ conversationId: c2.conversationId, body: text('two') });
    const list = await eventually(
      () => getJson('/v1/conversations', u('alice9')),
      (l: J) =>
        l.conversations?.find((c: J) => c.conversationId === c2.conversationId)?.lastMessage?.seq === 1 &&
        l.conversations?.find((c: J) => c.conversationId === c1.conversationId)?.lastMessage?.seq === 5,
    );
    expect(list.conversations.map((c: { conversationId: string }) => c.conversationId)).toEqual([c2.conversationId, c1.conversationId]);
    expect(list.conversations.map((c: { unreadCount: number }) => c.unreadCount)).toEqual([0, 0]);
    const bobList = await eventually(
      () => getJson('/v1/conversations', u('bob9')),
      (l: J) => l.conversations?.[0]?.unreadCount === 5,
    );
    expect(bobList.conversations[0]).toMatchObject({ conversationId: c1.conversationId, kind: 'direct', unreadCount: 5 });

    const page1 = await getJson(`/v1/conversations/${c1.conversationId}/messages?limit=2`, u('alice9'));
    expect(page1.messages.map((m: { seq: number }) => m.seq)).toEqual([4, 5]);
    expect(page1.hasMore).toBe(true);
    const page2 = await getJson(`/v1/conversations/${c1.conversationId}/messages?limit=2&beforeSeq=4`, u('alice9'));
    expect(page2.messages.map((m: { seq: number }) => m.seq)).toEqual([2, 3]);
    const fwd = await getJson(`/v1/conversations/${c1.conversationId}/messages?afterSeq=3`, u('alice9'));
    expect(fwd).toMatchObject({ hasMore: false });
    expect(fwd.messages.map((m: { seq: number }) => m.seq)).toEqual([4, 5]);
    expect((await http(`/v1/conversations/${c1.conversationId}/messages?limit=1000`, u('alice9'))).status).toBe(400);
  });

  it('answers every HTTP endpoint with exactly the body its contract describes (docs/schemas/http-bodies.json)', async () => {
    // Parsing strips what a schema does not know: equal after parsing means no field is missing,
    // mistyped or extra.
    const exactly = (schema: { parse(v: unknown): unknown }, body: unknown) => expect(schema.parse(body)).toEqual(body);
    const [alice, bob] = [u('alice10'), u('bob10')];
    const a = await connect(alice);
    const { conversationId } = await a.createConversation({ kind: 'direct', members: [bob] });
    const kept = await a.send({ conversationId, body: text('kept'), mentions: [bob] });
    const gone = await a.send({ conversationId, body: text('gone') });
    await a.delete(conversationId, gone.messageId, 'everyone');
    const list = await eventually(() => getJson('/v1/conversations', bob), (l: J) => l.conversations?.[0]?.lastMessage?.deleted === true);
    exactly(ConversationListPage, list);
    const history = await getJson(`/v1/conversations/${conversationId}/messages`, bob);
    expect(history.messages.map((m: J) => [m.seq, m.body])).toEqual([[1, text('kept')], [2, null]]);
    exactly(HistoryPage, history);
    exactly(ReceiptsBody, await getJson(`/v1/conversations/${conversationId}/messages/${kept.messageId}/receipts`, alice));
    const refused = await http(`/v1/conversations/${conversationId}/messages`, u('mallory10'));
    expect(refused.status).toBe(403);
    exactly(ErrorBody, await refused.json());
  });

  it('serves health and readiness on the client port, Prometheus metrics only on the ops port', async () => {
    expect((await fetch(`${sys.httpUrl}/healthz`)).status).toBe(200);
    const ready = await (await fetch(`${sys.httpUrl}/readyz`)).json();
    expect(ready).toEqual({ status: 'ready', checks: { nats: true, postgres: true, redis: true, events: true, projections: true, media: true } });
    const metrics = await (await fetch(`${sys.ops.edge}/metrics`)).text();
    expect(metrics).toMatch(/chat_ws_frames_in_total\{[^}]*type="message.send"/);
    expect(metrics).toMatch(/chat_ws_frames_out_total\{[^}]*type="message.sent"/);
    expect(metrics).toMatch(/chat_commands_total\{[^}]*type="SendMessage"/);
    expect((await fetch(`${sys.httpUrl}/metrics`)).status).toBe(404);
  });
});
