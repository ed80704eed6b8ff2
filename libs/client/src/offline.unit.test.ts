import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatClient, type ChatClientOptions, type ConnectionState, type NetworkEvents, type OutboxSettled } from './client';
import { FakeSocket, messageNew } from './fakeSocket';
import { memoryStorage } from './storage';

// The outbox, persistence, connection state and token handling of ChatClient, with a fake
// socket playing the edge and a fake clock.

let sockets: FakeSocket[];
const last = () => sockets[sockets.length - 1]!;
const client = (opts: Partial<ChatClientOptions> = {}) =>
  new ChatClient({
    url: 'ws://test/v1/ws',
    token: 't',
    network: false,
    createSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    ...opts,
  } as ChatClientOptions);
/** connect() and `hello`; with storage the socket opens after the stored state is loaded. */
async function open(c: ChatClient): Promise<void> {
  const p = c.connect();
  await vi.advanceTimersByTimeAsync(0);
  last().hello();
  await p;
  await vi.advanceTimersByTimeAsync(0);
}
async function reconnect(): Promise<void> {
  last().close(1006, 'gone');
  await vi.advanceTimersByTimeAsync(1_000);
  last().hello();
  await vi.advanceTimersByTimeAsync(0);
}
const sent = (clientMsgId: string, seq: number) => ({ type: 'message.sent' as const, clientMsgId, conversationId: 'c', messageId: `m${seq}`, seq, sentAt: 'now' });

beforeEach(() => {
  sockets = [];
  vi.useFakeTimers();
  vi.spyOn(Math, 'random').mockReturnValue(1); // backoff: the full step, 1 s first
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('connection state', () => {
  it('a getter and an event: connecting, connected, syncing while catching up after a reconnect, disconnected after close()', async () => {
    const c = client({ reconnect: true, cursor: 'c1_1' });
    const states: ConnectionState[] = [];
    c.on('state', (s) => states.push(s));
    expect(c.state).toBe('disconnected');
    await open(c);
    expect(c.state).toBe('connected');
    await reconnect();
    expect(c.state).toBe('syncing');
    const sync = last().ofType('sync')[0]!;
    last().serve({ type: 'sync.batch', ref: sync.ref, frames: [], cursor: 'c1_1', hasMore: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(c.state).toBe('connected');
    c.close();
    expect(states).toEqual(['connecting', 'connected', 'connecting', 'syncing', 'connected', 'disconnected']);
  });

  it('the quiet sync after live traffic is not reported as syncing', async () => {
    const c = client({ cursorSyncMs: 100 });
    const states: ConnectionState[] = [];
    await open(c);
    c.on('state', (s) => states.push(s));
    last().serve(messageNew('c', 1));
    await vi.advanceTimersByTimeAsync(100);
    expect(last().ofType('sync')).toHaveLength(1);
    expect(states).toEqual([]);
  });

  it('offline drops the socket; online reconnects at once instead of waiting out the backoff', async () => {
    const listeners = new Map<string, () => void>();
    const network: NetworkEvents = {
      addEventListener: (t, fn) => void listeners.set(t, fn),
      removeEventListener: (t) => void listeners.delete(t),
    };
    const c = client({ reconnect: { initialDelayMs: 60_000 }, network });
    await open(c);
    listeners.get('offline')!();
    expect(c.state).toBe('connecting');
    expect(sockets).toHaveLength(1);
    listeners.get('online')!();
    expect(sockets).toHaveLength(2);
    last().hello();
    expect(c.state).toBe('syncing');
    c.close();
    expect([...listeners.keys()]).toEqual([]);
  });
});

describe('tokens', () => {
  it('token and getToken: exactly one, checked with a clear error', () => {
    expect(() => client({ token: undefined })).toThrow('pass getToken (a function returning the current token) or token (a string)');
    expect(() => client({ getToken: () => 'x' })).toThrow('pass getToken or token, not both');
    expect(() => client({ url: 'http://test/v1/ws' })).toThrow('url must start with ws:// or wss://');
    expect(() => client({ sendTimeoutMs: -1 })).toThrow('sendTimeoutMs must be a number ≥ 0');
  });

  it('a refused token: getToken is asked again, and after a second refusal the client stops and emits unauthorized', async () => {
    let calls = 0;
    const c = client({ token: undefined, getToken: async () => `t${++calls}`, reconnect: true });
    const refused: string[] = [];
    c.on('unauthorized', (e) => refused.push(`${e.code}: ${e.message}`));
    await open(c);
    last().refuseToken('token expired');
    await vi.advanceTimersByTimeAsync(0);
    expect([calls, sockets.length]).toEqual([2, 2]);
    last().refuseToken('token expired');
    await vi.advanceTimersByTimeAsync(120_000);
    expect([calls, sockets.length]).toEqual([2, 2]);
    expect(refused).toEqual(['unauthorized: token expired']);
    expect(c.state).toBe('disconnected');
    await open(c); // the app has a new token: connect() asks for it
    expect(calls).toBe(3);
    expect(c.state).toBe('syncing'); // connected again, catching up
  });
});

describe('outbox', () => {
  it('rate_limited: the send is written again after retryAfterMs and resolves with its answer', async () => {
    const c = client({ reconnect: true });
    await open(c);
    const retrying: unknown[] = [];
    c.on('retrying', (r) => retrying.push(r));
    const p = c.send({ conversationId: 'c', body: { text: 'hi' }, clientMsgId: 'k1' });
    last().serve({ type: 'error', code: 'rate_limited', message: 'slow down', clientMsgId: 'k1', retryAfterMs: 2_000 });
    expect(retrying).toEqual([{ id: 'k1', type: 'message.send', retryAfterMs: 2_000 }]);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(last().ofType('message.send')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(last().ofType('message.send').map((f) => f.clientMsgId)).toEqual(['k1', 'k1']);
    last().serve(sent('k1', 1));
    await expect(p).resolves.toMatchObject({ seq: 1 });
    expect(c.pendingSends).toBe(0);
  });

  it('without reconnect there is no outbox: rate_limited rejects with the typed error', async () => {
    const c = client();
    await open(c);
    const p = c.send({ conversationId: 'c', body: { text: 'hi' }, clientMsgId: 'k1' });
    last().serve({ type: 'error', code: 'rate_limited', message: 'slow down', clientMsgId: 'k1', retryAfterMs: 2_000 });
    await expect(p).rejects.toMatchObject({ name: 'ChatError', code: 'rate_limited', retryAfterMs: 2_000 });
  });

  it('a refusal other than rate_limited fails the call at once and leaves the outbox', async () => {
    const c = client({ reconnect: true });
    await open(c);
    const p = c.edit('c', 'm1', { text: 'x' });
    const ref = last().ofType('message.edit')[0]!.ref;
    last().serve({ type: 'error', code: 'forbidden', message: 'not yours', ref });
    await expect(p).rejects.toMatchObject({ code: 'forbidden' });
    expect(c.pending).toEqual([]);
  });

  it('edit, delete and read marks made offline are written on the next hello; reads coalesce to the highest seq', async () => {
    const c = client({ reconnect: true });
    await open(c);
    last().close(1006, 'gone');
    const edit = c.edit('c', 'm1', { text: 'fixed' });
    const del = c.delete('c', 'm2', 'me');
    c.markRead('c', 3);
    c.markRead('c', 5);
    c.markRead('c', 4);
    expect(c.pending.map((e) => e.frame.type)).toEqual(['message.edit', 'message.delete', 'message.read']);
    await vi.advanceTimersByTimeAsync(1_000);
    last().hello();
    await vi.advanceTimersByTimeAsync(0);
    const s = last();
    expect(s.sent.map((f) => f.type)).toEqual(['message.edit', 'message.delete', 'message.read', 'sync']);
    expect(s.ofType('message.read')).toEqual([{ type: 'message.read', conversationId: 'c', upToSeq: 5 }]);
    s.serve({ type: 'message.edited', ref: s.ofType('message.edit')[0]!.ref, conversationId: 'c', messageId: 'm1', seq: 1, body: { text: 'fixed' }, editedAt: 'now' });
    s.serve({ type: 'message.deleted', ref: s.ofType('message.delete')[0]!.ref, conversationId: 'c', messageId: 'm2', seq: 2, scope: 'me', deletedAt: 'now' });
    await expect(edit).resolves.toMatchObject({ type: 'message.edited' });
    await expect(del).resolves.toMatchObject({ type: 'message.deleted' });
    expect(c.pending).toEqual([]);
  });

  it('a call unanswered for sendTimeoutMs fails', async () => {
    const c = client({ reconnect: true, sendTimeoutMs: 5_000 });
    await open(c);
    last().close(1006, 'gone');
    const p = c.send({ conversationId: 'c', body: { text: 'lost' }, clientMsgId: 'k1' });
    const failed = expect(p).rejects.toMatchObject({ code: 'unavailable' });
    await vi.advanceTimersByTimeAsync(5_000);
    await failed;
  });
});

describe('storage', () => {
  it('persists the outbox and the cursor; a new client on that storage sends the stored calls and syncs from the stored cursor', async () => {
    const storage = memoryStorage();
    const a = client({ reconnect: true, storage });
    await open(a);
    const sync = a.syncAll();
    last().serve({ type: 'sync.batch', ref: last().ofType('sync')[0]!.ref, frames: [messageNew('c', 1, 'c1_3') as never], cursor: 'c1_3', hasMore: false });
    await sync;
    last().close(1006, 'gone');
    void a.send({ conversationId: 'c', body: { text: 'from the plane' }, clientMsgId: 'k1' }).catch(() => undefined);
    a.markRead('c', 1);
    await a.flush();
    expect(JSON.parse(storage.data.get('cursor')!)).toBe('c1_3');
    expect(JSON.parse(storage.data.get('outbox')!).entries.map((e: { id: string }) => e.id)).toEqual(['k1', 'read:c']);
    a.close(); // the app quits: the stored outbox stays

    const b = client({ reconnect: true, storage });
    const settled: OutboxSettled[] = [];
    b.on('settled', (s) => settled.push(s));
    await open(b);
    const s = last();
    expect(s.sent.map((f) => f.type)).toEqual(['message.send', 'message.read']);
    expect(s.ofType('message.send')[0]).toMatchObject({ clientMsgId: 'k1', body: { text: 'from the plane' } });
    s.serve(sent('k1', 2));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toMatchObject([{ id: 'k1', answer: { type: 'message.sent', seq: 2 } }]);
    await b.flush();
    expect(storage.data.has('outbox')).toBe(false);
    void b.syncAll(); // the first sync goes out from the stored cursor
    expect(s.ofType('sync')[0]!.cursor).toBe('c1_3');
  });

  it('calls made before the stored outbox is loaded are merged after it, not written over it', async () => {
    const storage = memoryStorage({
      outbox: JSON.stringify({ v: 1, entries: [{ id: 'old', queuedAt: Date.now() - 1_000, frame: { type: 'message.send', clientMsgId: 'old', conversationId: 'c', body: { text: 'old' } } }] }),
    });
    const c = client({ reconnect: true, storage });
    void c.send({ conversationId: 'c', body: { text: 'new' }, clientMsgId: 'new' }).catch(() => undefined);
    await open(c);
    expect(last().ofType('message.send').map((f) => f.clientMsgId)).toEqual(['old', 'new']);
    await c.flush();
    expect(JSON.parse(storage.data.get('outbox')!).entries.map((e: { id: string }) => e.id)).toEqual(['old', 'new']);
  });

  it('a stored entry that is not a frame of the contract is reported and dropped', async () => {
    const storage = memoryStorage({
      outbox: JSON.stringify({ v: 1, entries: [{ id: 'bad', queuedAt: Date.now(), frame: { type: 'message.send', clientMsgId: 'bad' } }] }),
      cursor: 'not json',
    });
    const c = client({ reconnect: true, storage });
    const errors: string[] = [];
    c.on('storageError', (e) => errors.push(e.message));
    await open(c);
    expect(errors).toEqual(['stored cursor is not JSON; syncing from the cursor in memory', 'stored outbox entry "bad" is not a frame of the contract; it is dropped']);
    expect(last().sent).toEqual([]);
  });
});
