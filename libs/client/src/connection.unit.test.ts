import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServerFrame } from '@chat/contracts';
import { backoffOf, Connection, reconnectDelay, socketUrl, type ConnectionOptions } from './connection';
import { FakeSocket, messageNew } from './fakeSocket';

let sockets: FakeSocket[];
let log: string[];
let taken: (f: ServerFrame) => boolean;
const last = () => sockets[sockets.length - 1]!;

function connection(o: Partial<ConnectionOptions> = {}) {
  return new Connection(
    {
      url: 'ws://a/v1/ws',
      token: 't',
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
    },
  );
}

beforeEach(() => {
  vi.useFakeTimers();
  sockets = [];
  log = [];
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
  it('adds the token and the receipt.batch feature to the query', () => {
    expect(socketUrl('ws://a/v1/ws', 'a b&c')).toBe('ws://a/v1/ws?access_token=a%20b%26c&features=receipt.batch');
    expect(socketUrl('ws://a/v1/ws?x=1', 't')).toBe('ws://a/v1/ws?x=1&access_token=t&features=receipt.batch');
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
