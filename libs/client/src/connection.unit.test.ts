import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChatError, ServerFrame } from '@chat/contracts';
import { backoffOf, Connection, reconnectDelay, socketUrl, type ConnectionOptions } from './connection';
import { FakeSocket, messageNew } from './fakeSocket';

let sockets: FakeSocket[];
let log: string[];
let states: string[];
let refusals: ChatError[];
let taken: (f: ServerFrame) => boolean;
const last = () => sockets[sockets.length - 1]!;

function connection(o: Partial<ConnectionOptions> = {}) {
  return new Connection(
    {
      url: 'ws://a/v1/ws',
      getToken: () => 't',
      createSocket: (u) => {
        const s = new FakeSocket(u);
        sockets.push(s);
        return s;
      },
      connectTimeoutMs: 1_000,
      ...o,
    },
    {
      open: (_hello, { reconnected, attempt }) => log.push(`open reconnected=${reconnected} attempt=${attempt}`),
      frame: (f) => log.push(`frame ${f.type}`),
      early: (f) => {
        if (!taken(f)) return false;
        log.push(`early ${f.type}`);
        return true;
      },
      close: ({ code }) => log.push(`close ${code}`),
      reconnecting: ({ attempt, delayMs }) => log.push(`reconnecting ${attempt} in ${delayMs}`),
      state: (st) => states.push(st),
      unauthorized: (e) => refusals.push(e),
    },
  );
}

beforeEach(() => {
  vi.useFakeTimers();
  sockets = [];
  log = [];
  states = [];
  refusals = [];
  taken = () => false;
});
afterEach(() => vi.useRealTimers());

describe('backoff', () => {
  it('defaults to 1 s doubling to 30 s; none without reconnect', () => {
    expect(backoffOf(true)).toEqual({ initialDelayMs: 1_000, maxDelayMs: 30_000 });
    expect(backoffOf({ maxDelayMs: 5_000 })).toEqual({ initialDelayMs: 1_000, maxDelayMs: 5_000 });
    expect(backoffOf(false)).toBeNull();
    expect(backoffOf(undefined)).toBeNull();
  });

  it('equal jitter: between half and all of the capped exponential step', () => {
    const b = { initialDelayMs: 1_000, maxDelayMs: 30_000 };
    expect([0, 1, 2, 5, 6].map((a) => reconnectDelay(b, a, 0))).toEqual([500, 1_000, 2_000, 15_000, 15_000]);
    expect([0, 1, 2, 5, 6].map((a) => reconnectDelay(b, a, 1))).toEqual([1_000, 2_000, 4_000, 30_000, 30_000]);
  });
});

describe('socketUrl', () => {
  it('adds the token and the batch features to the query', () => {
    expect(socketUrl('ws://a/v1/ws', 'a b&c')).toBe('ws://a/v1/ws?access_token=a%20b%26c&features=receipt.batch,presence.batch');
    expect(socketUrl('ws://a/v1/ws?x=1', 't')).toBe('ws://a/v1/ws?x=1&access_token=t&features=receipt.batch,presence.batch');
  });
});

describe('Connection', () => {
  it('resolves on hello; frames that came with it are handled a turn later', async () => {
    const c = connection();
    const opened = c.connect();
    expect(c.connected).toBe(false);
    last().onmessage?.({ data: 'not json' });
    last().hello();
    last().serve({ type: 'pong', ref: 'p' });
    await expect(opened).resolves.toMatchObject({ type: 'hello', edgeId: 'e' });
    expect(c.connected).toBe(true);
    expect(log).toEqual(['open reconnected=false attempt=0']);
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['open reconnected=false attempt=0', 'frame pong']);
  });

  it('gives up on a connect without hello after the timeout and closes the socket', async () => {
    const c = connection();
    const opened = c.connect();
    const failed = expect(opened).rejects.toMatchObject({ code: 'unavailable', message: 'connect timed out' });
    await vi.advanceTimersByTimeAsync(1_000);
    await failed;
    expect(last().readyState).toBe(3);
    expect(log).toEqual(['close 4000']);
  });

  it('reconnects to the next URL after a drop, with the attempts it took', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const c = connection({ url: ['ws://a/v1/ws', 'ws://b/v1/ws'], reconnect: { initialDelayMs: 100 } });
    void c.connect();
    last().hello();
    c.drop();
    await vi.advanceTimersByTimeAsync(50);
    last().close(1006); // the first attempt fails
    await vi.advanceTimersByTimeAsync(100);
    last().hello();
    expect(sockets.map((s) => s.url.split('?')[0])).toEqual(['ws://a/v1/ws', 'ws://b/v1/ws', 'ws://a/v1/ws']);
    expect(log).toEqual(['open reconnected=false attempt=0', 'close 4000', 'reconnecting 1 in 50', 'close 1006', 'reconnecting 2 in 100', 'open reconnected=true attempt=2']);
    vi.restoreAllMocks();
  });

  it('offers frames before hello to `early` only on a reconnect', async () => {
    taken = (f) => f.type === 'message.new';
    const c = connection({ reconnect: { initialDelayMs: 10 } });
    void c.connect();
    last().serve(messageNew('a', 1));
    last().hello();
    c.drop();
    await vi.advanceTimersByTimeAsync(10);
    last().serve(messageNew('a', 2));
    last().serve({ type: 'receipt', conversationId: 'a', userId: 'v', status: 'read', upToSeq: 1, at: 'now' });
    expect(log.filter((l) => !l.startsWith('open') && !l.startsWith('close') && !l.startsWith('reconnecting'))).toEqual([
      'frame message.new',
      'early message.new',
      'frame receipt',
    ]);
  });

  it('close() is for good: no reconnect, and a socket replaced by a newer one is ignored', async () => {
    const c = connection({ reconnect: true });
    void c.connect();
    const first = last();
    first.hello();
    const second = c.connect().catch((e: Error) => e.message);
    first.close(1006); // an older socket: nothing happens
    expect(log).toEqual(['open reconnected=false attempt=0']);
    c.close(1000, 'bye');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(2);
    expect(log).toEqual(['open reconnected=false attempt=0', 'close 1000']);
    await expect(second).resolves.toBe('connection closed (1000)');
  });

  it('write needs an open socket; send only a socket', () => {
    const c = connection();
    expect(() => c.send('x')).toThrow('not connected');
    void c.connect();
    expect(() => c.write({ type: 'ping' })).toThrow('not connected');
    expect(() => c.send('{"type":"ping"}')).not.toThrow();
    last().readyState = 1;
    c.write({ type: 'ping', ref: 'p' });
    expect(last().sent).toEqual([{ type: 'ping' }, { type: 'ping', ref: 'p' }]);
  });
});

describe('Connection state', () => {
  it('connecting → connected → connecting while it waits to reconnect → connected; disconnected after close()', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const c = connection({ reconnect: { initialDelayMs: 100 } });
    expect(c.state).toBe('disconnected');
    void c.connect();
    expect(c.state).toBe('connecting');
    last().hello();
    expect(c.state).toBe('connected');
    c.drop();
    expect(c.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(50);
    expect(sockets).toHaveLength(2);
    last().hello();
    c.close(1000, 'bye');
    expect(states).toEqual(['connecting', 'connected', 'connecting', 'connected', 'disconnected']);
    vi.restoreAllMocks();
  });

  it('without reconnect a drop ends in disconnected', async () => {
    const c = connection();
    void c.connect();
    last().hello();
    last().close(1006);
    expect(states).toEqual(['connecting', 'connected', 'disconnected']);
  });

  it('reconnectNow (the browser is online again) skips the backoff wait, but not while connected or after close()', async () => {
    const c = connection({ reconnect: { initialDelayMs: 60_000 } });
    void c.connect();
    last().hello();
    c.reconnectNow();
    expect(sockets).toHaveLength(1);
    c.drop();
    c.reconnectNow();
    expect(sockets).toHaveLength(2);
    c.reconnectNow(); // an attempt is under way
    expect(sockets).toHaveLength(2);
    last().hello();
    c.close(1000, 'bye');
    c.reconnectNow();
    expect(sockets).toHaveLength(2);
  });
});

describe('Connection tokens', () => {
  it('asks getToken before every attempt and puts the token in the URL', async () => {
    const tokens = ['t1', 't2'];
    const c = connection({ getToken: () => tokens.shift()!, reconnect: { initialDelayMs: 10 } });
    void c.connect();
    last().hello();
    c.drop();
    await vi.advanceTimersByTimeAsync(10);
    expect(sockets.map((s) => new URL(s.url).searchParams.get('access_token'))).toEqual(['t1', 't2']);
  });

  it('waits for an asynchronous getToken; close() meanwhile opens nothing', async () => {
    let give!: (t: string) => void;
    const c = connection({ getToken: () => new Promise<string>((r) => (give = r)) });
    const opened = c.connect();
    expect(sockets).toHaveLength(0);
    give('late');
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(1);
    last().hello();
    await expect(opened).resolves.toMatchObject({ type: 'hello' });

    const again = c.connect();
    c.close(1000, 'bye');
    give('too late');
    await expect(again).rejects.toMatchObject({ code: 'unavailable' });
    expect(sockets).toHaveLength(1); // only the one opened before close()
  });

  it('a getToken that fails is a failed attempt: retried with backoff', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    let calls = 0;
    const c = connection({
      getToken: async () => {
        if (++calls === 1) throw new Error('token service down');
        return 'ok';
      },
      reconnect: { initialDelayMs: 100 },
    });
    await expect(c.connect()).rejects.toMatchObject({ code: 'unavailable', message: 'getToken failed: token service down' });
    expect(log).toEqual(['reconnecting 1 in 50']);
    await vi.advanceTimersByTimeAsync(50);
    expect(sockets).toHaveLength(1);
    vi.restoreAllMocks();
  });

  it('a refused token (error unauthorized, close 4401): asks getToken once more at once, then stops and reports it', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    let calls = 0;
    const c = connection({ getToken: () => `t${++calls}`, refreshable: true, reconnect: { initialDelayMs: 100 } });
    void c.connect();
    last().hello();
    last().refuseToken('token expired'); // a live connection whose token expired
    expect(refusals).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(2);
    expect(sockets).toHaveLength(2);
    const second = last();
    second.refuseToken('invalid token');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(2); // stopped: no backoff loop on a refused token
    expect(calls).toBe(2);
    expect(refusals.map((e) => [e.code, e.message])).toEqual([['unauthorized', 'invalid token']]);
    expect(c.state).toBe('disconnected');
    expect(log.filter((l) => l.startsWith('reconnecting'))).toEqual(['reconnecting 1 in 0']);
    // The online event does not restart it either; connect() does, with a new token.
    c.reconnectNow();
    expect(sockets).toHaveLength(2);
    void c.connect();
    expect(calls).toBe(3);
    last().hello();
    expect(c.state).toBe('connected');
    vi.restoreAllMocks();
  });

  it('a fixed token refused is terminal at once; connect() rejects with unauthorized', async () => {
    const c = connection({ reconnect: true });
    const opened = c.connect();
    last().refuseToken('invalid token');
    await expect(opened).rejects.toMatchObject({ code: 'unauthorized', message: 'invalid token' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(1);
    expect(refusals.map((e) => e.code)).toEqual(['unauthorized']);
    expect(log).toEqual(['close 4401']);
  });

  it('counts refusals since the last hello: a token renewed and accepted resets it', async () => {
    let calls = 0;
    const c = connection({ getToken: () => `t${++calls}`, refreshable: true, reconnect: { initialDelayMs: 100 } });
    void c.connect();
    last().hello();
    for (let i = 0; i < 3; i++) {
      last().refuseToken();
      await vi.advanceTimersByTimeAsync(0);
      last().hello();
    }
    expect(refusals).toEqual([]);
    expect(calls).toBe(4);
  });
});
