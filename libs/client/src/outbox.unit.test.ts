import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientFrame } from '@chat/contracts';
import { Outbox, type OutboxEntry } from './outbox';

const send = (clientMsgId: string): ClientFrame => ({ type: 'message.send', clientMsgId, conversationId: 'c', body: { text: clientMsgId } });
const read = (conversationId: string, upToSeq: number): ClientFrame => ({ type: 'message.read', conversationId, upToSeq });
const never = () => new Promise<never>(() => undefined);

let online: boolean;
let written: ClientFrame[];
let persisted: OutboxEntry[][];
const outbox = (o: { persist?: boolean } = {}) =>
  new Outbox({
    write: (f) => {
      if (!online) return false;
      written.push(f);
      return true;
    },
    now: () => Date.now(),
    changed: o.persist ? (entries) => persisted.push(entries) : undefined,
  });

beforeEach(() => {
  vi.useFakeTimers();
  online = true;
  written = [];
  persisted = [];
});
afterEach(() => vi.useRealTimers());

describe('Outbox', () => {
  it('keeps a frame while its request is pending, whether it is answered or fails', async () => {
    const o = outbox();
    let answer!: (v: string) => void;
    let fail!: (e: Error) => void;
    const a = o.track('k1', send('k1'), () => new Promise<string>((r) => (answer = r)));
    const b = o.track('k2', send('k2'), () => new Promise<string>((_, r) => (fail = r)));
    expect([o.size, o.has('k1'), o.has('k2')]).toEqual([2, true, true]);
    answer('sent');
    await expect(a).resolves.toBe('sent');
    expect(o.has('k1')).toBe(false);
    fail(new Error('refused'));
    await expect(b).rejects.toThrow('refused');
    expect(o.size).toBe(0);
  });

  it('writes every pending frame again, in the order they were added', () => {
    const o = outbox();
    void o.track('k1', send('k1'), never);
    void o.track('k2', send('k2'), never);
    expect(o.resend()).toBe(2);
    expect(written).toEqual([send('k1'), send('k2')]);
    o.clear();
    expect(o.resend()).toBe(0);
    expect(written).toHaveLength(2);
  });

  it('stops writing when the socket is gone', () => {
    const o = outbox();
    void o.track('k1', send('k1'), never);
    online = false;
    expect(o.resend()).toBe(0);
    expect(o.size).toBe(1);
  });

  it('rate_limited: writes the frame again after retryAfterMs, not before, and a resend meanwhile skips it', async () => {
    const o = outbox();
    void o.track('k1', send('k1'), never);
    void o.track('k2', send('k2'), never);
    expect(o.retryAfter('k1', 1_500)).toBe(true);
    expect(o.retryAfter('unknown', 1_500)).toBe(false);
    expect(o.resend()).toBe(1); // a reconnect meanwhile: only k2 is due
    expect(written).toEqual([send('k2')]);
    await vi.advanceTimersByTimeAsync(1_499);
    expect(written).toEqual([send('k2')]);
    await vi.advanceTimersByTimeAsync(1);
    expect(written).toEqual([send('k2'), send('k1')]);
    expect(o.has('k1')).toBe(true); // still waiting for its answer
  });

  it('a retry due while offline waits for the next resend', async () => {
    const o = outbox();
    void o.track('k1', send('k1'), never);
    o.retryAfter('k1', 100);
    online = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(written).toEqual([]);
    online = true;
    expect(o.resend()).toBe(1);
    expect(written).toEqual([send('k1')]);
  });

  it('a one-way frame (read mark) is written at once when connected, else kept until written, then gone', () => {
    const o = outbox();
    o.post('read:a', read('a', 3));
    expect([written, o.size]).toEqual([[read('a', 3)], 0]);
    online = false;
    o.post('read:a', read('a', 4));
    o.post('read:a', read('a', 5)); // replaces the one of the same id
    expect(o.get('read:a')).toEqual(read('a', 5));
    online = true;
    expect(o.resend()).toBe(1);
    expect(written).toEqual([read('a', 3), read('a', 5)]);
    expect(o.size).toBe(0);
    expect(o.retryAfter('read:a', 10)).toBe(false);
  });

  it('reports changes for persisting only once reattached (after the stored outbox was loaded), oldest first', async () => {
    const o = outbox({ persist: true });
    online = false;
    vi.setSystemTime(2_000);
    void o.track('new', send('new'), never);
    expect(persisted).toEqual([]);
    void o.track('restored', send('restored'), never, 1_000);
    o.reattach();
    expect(persisted).toEqual([
      [
        { id: 'restored', frame: send('restored'), queuedAt: 1_000 },
        { id: 'new', frame: send('new'), queuedAt: 2_000 },
      ],
    ]);
    o.post('read:a', read('a', 1));
    expect(persisted.at(-1)!.map((e) => e.id)).toEqual(['restored', 'new', 'read:a']);
  });

  it('clear(true) fails nothing into storage: the persisted outbox stays for the next client', async () => {
    const o = outbox({ persist: true });
    o.reattach();
    let fail!: (e: Error) => void;
    const p = o.track('k1', send('k1'), () => new Promise((_, r) => (fail = r)));
    const before = persisted.length;
    o.clear(true);
    fail(new Error('closed'));
    await expect(p).rejects.toThrow('closed');
    expect(persisted).toHaveLength(before);
  });
});
