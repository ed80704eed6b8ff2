import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatClient } from './client';
import { FakeSocket, messageNew as message } from './fakeSocket';

let sockets: FakeSocket[];
const client = (opts: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}) =>
  new ChatClient({
    url: 'ws://test/v1/ws',
    token: 't',
    createSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    ...opts,
  });
const last = () => sockets[sockets.length - 1]!;
/** Connects and lets the frames that came with `hello` be handled (the client defers them a turn). */
async function open(c: ChatClient): Promise<void> {
  const p = c.connect();
  last().hello();
  await p;
  await vi.advanceTimersByTimeAsync(0);
}
/** A reconnect's `hello`, and the turn after it. */
async function greet(): Promise<void> {
  last().hello();
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => {
  sockets = [];
  vi.useFakeTimers();
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('ChatClient resilience', () => {
  it('reconnects with jittered exponential backoff capped at 30 s, and resets after a hello', async () => {
    const c = client({ reconnect: true });
    const delays: number[] = [];
    c.on('reconnecting', ({ delayMs }) => delays.push(delayMs));
    const first = c.connect();
    last().hello();
    await first;
    for (let i = 0; i < 7; i++) {
      last().close(1006, 'gone');
      await vi.advanceTimersByTimeAsync(delays[delays.length - 1]!);
    }
    // random = 0.5 → 3/4 of each step: 1 s, 2 s, 4 s, … capped at 30 s.
    expect(delays).toEqual([750, 1500, 3000, 6000, 12000, 22500, 22500]);
    last().hello();
    last().close(1006, 'gone again');
    expect(delays.at(-1)).toBe(750);
    c.close();
  });

  it('does not reconnect after close() or without the option', async () => {
    const c = client();
    await open(c);
    last().close(1006);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(1);

    const r = client({ reconnect: true });
    const q = r.connect();
    last().hello();
    await q;
    r.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(2);
  });

  it('keeps unanswered sends in the outbox and re-sends them with the same clientMsgId after a reconnect', async () => {
    const c = client({ reconnect: true });
    await open(c);
    const sending = c.send({ conversationId: 'c', body: { text: 'hi' }, clientMsgId: 'k1' });
    expect(last().ofType('message.send').map((f) => f.clientMsgId)).toEqual(['k1']);
    last().close(1006);
    const queuedOffline = c.send({ conversationId: 'c', body: { text: 'offline' }, clientMsgId: 'k2' });
    expect(c.pendingSends).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    await greet();
    expect(last().ofType('message.send').map((f) => f.clientMsgId)).toEqual(['k1', 'k2']);
    last().serve({ type: 'message.sent', clientMsgId: 'k1', conversationId: 'c', messageId: 'm1', seq: 1, sentAt: 'now' });
    last().serve({ type: 'message.sent', clientMsgId: 'k2', conversationId: 'c', messageId: 'm2', seq: 2, sentAt: 'now' });
    await expect(sending).resolves.toMatchObject({ messageId: 'm1' });
    await expect(queuedOffline).resolves.toMatchObject({ messageId: 'm2' });
    expect(c.pendingSends).toBe(0);
    expect(c.stats.resent).toBe(2); // both were written from the outbox on the reconnect
    c.close();
  });

  it('syncs from the stored cursor after a reconnect and drops duplicates', async () => {
    const c = client({ reconnect: true, cursor: 'c1_1' });
    const got: number[] = [];
    c.on('message', (m) => got.push(m.seq));
    await open(c);
    last().serve(message('c', 2));
    last().close(1006);
    await vi.advanceTimersByTimeAsync(1_000);
    await greet();
    const sync = last().ofType('sync')[0]!;
    expect(sync.cursor).toBe('c1_1'); // live frames never move the cursor
    last().serve({ type: 'sync.batch', ref: sync.ref, frames: [message('c', 2) as never, message('c', 3) as never], cursor: 'c1_3', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([2, 3]);
    expect(c.stats.duplicatesDropped).toBe(1);
    expect(c.cursor).toBe('c1_3');
    c.close();
  });

  it('repairs a gap: seq N+2 after N is held until a sync brings N+1', async () => {
    const c = client();
    const got: number[] = [];
    c.on('message', (m) => got.push(m.seq));
    await open(c);
    last().serve(message('c', 1));
    last().serve(message('c', 3));
    expect(got).toEqual([1]);
    const sync = last().ofType('sync')[0]!;
    expect(sync.cursor).toBeNull(); // from the stored cursor: live frames never move it
    last().serve({ type: 'sync.batch', ref: sync.ref, frames: [message('c', 2) as never, message('c', 3) as never], cursor: 'c1_3', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([1, 2, 3]);
    expect(c.stats.gapsRepaired).toBe(1);
  });

  it('an own send acknowledged past a hole does not hide the hole: the next live message waits for a sync', async () => {
    const c = client();
    const got: number[] = [];
    c.on('message', (m) => got.push(m.seq));
    await open(c);
    last().serve(message('c', 1));
    const sending = c.send({ conversationId: 'c', body: { text: 'mine' }, clientMsgId: 'own-1' });
    // 2 (someone else's) never reached this device; its own send became 3.
    last().serve({ type: 'message.sent', clientMsgId: 'own-1', conversationId: 'c', messageId: 'c-3', seq: 3, sentAt: new Date(0).toISOString() });
    await sending;
    last().serve(message('c', 4));
    expect(got).toEqual([1]);
    const sync = last().ofType('sync')[0]!;
    last().serve({ type: 'sync.batch', ref: sync.ref, frames: [2, 3, 4].map((n) => message('c', n) as never), cursor: 'c1_4', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([1, 2, 4]);
  });

  it('runs one sync at a time, so live frames never move the cursor past what a sync has not fetched', async () => {
    const c = client({ cursor: 'c1_1' });
    await open(c);
    const a = c.syncAll();
    const b = c.syncAll();
    expect(last().ofType('sync')).toHaveLength(1);
    last().serve(message('x', 1, 'c1_9')); // live, during the sync: held back
    expect(c.cursor).toBe('c1_1');
    const sync = last().ofType('sync')[0]!;
    last().serve({ type: 'sync.batch', ref: sync.ref, frames: [message('y', 1, 'c1_2') as never], cursor: 'c1_2', hasMore: false });
    await expect(a).resolves.toBe(2);
    await expect(b).resolves.toBe(2);
    expect(c.cursor).toBe('c1_2');
  });

  it('a live message of a conversation not seen yet, past seq 1, waits for a sync to bring what came before it', async () => {
    const c = client();
    const got: string[] = [];
    c.on('message', (m) => got.push(`${m.conversationId}@${m.seq}`));
    await open(c);
    // 1 and 2 were routed while this device was away; 3 is the first it gets live.
    last().serve(message('g', 3));
    expect(got).toEqual([]);
    const s1 = last().ofType('sync')[0]!;
    last().serve({ type: 'sync.batch', ref: s1.ref, frames: [1, 2, 3].map((n) => message('g', n) as never), cursor: 'c1_3', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual(['g@1', 'g@2', 'g@3']);

    // A group joined later: nothing before 7 is visible to this user. One sync says so; 7 goes out.
    last().serve(message('late', 7));
    const s2 = last().ofType('sync')[1]!;
    last().serve({ type: 'sync.batch', ref: s2.ref, frames: [], cursor: 'c1_3', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    const s3 = last().ofType('sync')[2];
    if (s3) last().serve({ type: 'sync.batch', ref: s3.ref, frames: [], cursor: 'c1_3', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual(['g@1', 'g@2', 'g@3', 'late@7']);
    // seq 1 of a new conversation needs no sync.
    const syncs = last().ofType('sync').length;
    last().serve(message('fresh', 1));
    expect(got.at(-1)).toBe('fresh@1');
    expect(last().ofType('sync')).toHaveLength(syncs);
  });

  it('a frame held during a sync that lands after a gap waits for one more sync', async () => {
    const c = client();
    const got: number[] = [];
    c.on('message', (m) => got.push(m.seq));
    await open(c);
    last().serve(message('c', 1));
    const first = c.syncAll();
    last().serve(message('c', 3)); // live during the sync; 2 was lost with an earlier connection
    const s1 = last().ofType('sync')[0]!;
    last().serve({ type: 'sync.batch', ref: s1.ref, frames: [], cursor: 'c1_1', hasMore: false });
    await first;
    expect(got).toEqual([1]);
    await vi.advanceTimersByTimeAsync(0);
    const s2 = last().ofType('sync')[1]!;
    last().serve({ type: 'sync.batch', ref: s2.ref, frames: [message('c', 2) as never, message('c', 3) as never], cursor: 'c1_3', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([1, 2, 3]);
  });

  it('moves the cursor only by sync: a sync shortly after live traffic, which also fills holes', async () => {
    const c = client({ cursor: 'c1_0', cursorSyncMs: 500 });
    const got: string[] = [];
    c.on('message', (m) => got.push(`${m.conversationId}@${m.seq}`));
    await open(c);
    last().serve(message('b', 1, 'c1_5')); // 'a'@1 at c1_4 was never routed here
    expect(c.cursor).toBe('c1_0');
    expect(last().ofType('sync')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(500);
    const sync = last().ofType('sync')[0]!;
    expect(sync.cursor).toBe('c1_0');
    last().serve({ type: 'sync.batch', ref: sync.ref, frames: [message('a', 1, 'c1_4') as never, message('b', 1, 'c1_5') as never], cursor: 'c1_5', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual(['b@1', 'a@1']);
    expect(c.cursor).toBe('c1_5');
  });

  it('syncs when the edge says live frames may have missed it (sync.required)', async () => {
    const c = client({ cursor: 'c1_3' });
    await open(c);
    last().serve({ type: 'sync.required', reason: 'route re-created' });
    await vi.advanceTimersByTimeAsync(0);
    expect(last().ofType('sync').map((f) => f.cursor)).toEqual(['c1_3']);
  });

  it('sync.required during a running sync queues one more sync after it, shared by further requests', async () => {
    const c = client({ cursor: 'c1_3' });
    await open(c);
    const running = c.syncAll();
    last().serve({ type: 'sync.required', reason: 'route re-created' });
    last().serve({ type: 'sync.required', reason: 'route re-created' });
    await vi.advanceTimersByTimeAsync(0);
    expect(last().ofType('sync')).toHaveLength(1);
    const s1 = last().ofType('sync')[0]!;
    last().serve({ type: 'sync.batch', ref: s1.ref, frames: [], cursor: 'c1_3', hasMore: false });
    await running;
    await vi.advanceTimersByTimeAsync(0);
    expect(last().ofType('sync').map((f) => f.cursor)).toEqual(['c1_3', 'c1_3']);
  });

  it('coalesces delivered acks per conversation to the highest seq', async () => {
    const c = client({ autoAck: { delayMs: 50 } });
    await open(c);
    for (let seq = 1; seq <= 5; seq++) last().serve(message('a', seq));
    last().serve(message('b', 1));
    expect(last().ofType('message.delivered')).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    expect(last().ofType('message.delivered')).toEqual([
      { type: 'message.delivered', conversationId: 'a', upToSeq: 5 },
      { type: 'message.delivered', conversationId: 'b', upToSeq: 1 },
    ]);
  });
});
