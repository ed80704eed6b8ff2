import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReceiptCoalescer, ReceiptTracker, type ReceiptStatus } from './receipts';

type Frame = [string, ReceiptStatus, number];

function setup(readShare?: number) {
  const frames: Frame[] = [];
  const c = new ReceiptCoalescer({ windowMs: 100, ...(readShare !== undefined ? { readShare } : {}), emit: (conv, status, seq) => frames.push([conv, status, seq]) });
  return { c, frames };
}

describe('ReceiptCoalescer (the SDK autoAck, plus read receipts)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends one delivered per conversation per 100 ms window, with the highest seq', () => {
    const { c, frames } = setup(0);
    c.received('a', 1);
    c.received('a', 3);
    c.received('a', 2); // lower than queued: ignored
    c.received('b', 7);
    vi.advanceTimersByTime(99);
    expect(frames).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(frames).toEqual([
      ['a', 'delivered', 3],
      ['b', 'delivered', 7],
    ]);
  });

  it('starts the window at the first message after a flush, not on a fixed clock', () => {
    const { c, frames } = setup(0);
    vi.advanceTimersByTime(1_000);
    c.received('a', 1);
    vi.advanceTimersByTime(60);
    c.received('a', 2); // same window
    vi.advanceTimersByTime(40);
    expect(frames).toEqual([['a', 'delivered', 2]]);
    c.received('a', 3);
    vi.advanceTimersByTime(99);
    expect(frames).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(frames).toEqual([
      ['a', 'delivered', 2],
      ['a', 'delivered', 3],
    ]);
  });

  it('sends nothing when nothing arrived', () => {
    const { c, frames } = setup();
    vi.advanceTimersByTime(10_000);
    expect(c.flush()).toBe(0);
    expect(frames).toEqual([]);
  });

  it('with readShare 0.5 (the default) follows every other delivered flush with a read of the same upToSeq', () => {
    const { c, frames } = setup();
    for (let seq = 1; seq <= 4; seq++) {
      c.received('a', seq);
      vi.advanceTimersByTime(100);
    }
    expect(frames).toEqual([
      ['a', 'delivered', 1],
      ['a', 'delivered', 2],
      ['a', 'read', 2],
      ['a', 'delivered', 3],
      ['a', 'delivered', 4],
      ['a', 'read', 4],
    ]);
  });

  it('counts the read share per conversation', () => {
    const { c, frames } = setup(0.5);
    c.received('a', 1);
    vi.advanceTimersByTime(100);
    c.received('b', 1);
    vi.advanceTimersByTime(100);
    expect(frames.filter((f) => f[1] === 'read')).toEqual([]);
    c.received('a', 2);
    c.received('b', 2);
    vi.advanceTimersByTime(100);
    expect(frames.filter((f) => f[1] === 'read')).toEqual([
      ['a', 'read', 2],
      ['b', 'read', 2],
    ]);
  });

  it.each([
    [0, 0],
    [0.2, 2],
    [0.25, 2],
    [1, 10],
  ])('readShare %s: %s reads over 10 flushes', (share, reads) => {
    const { c, frames } = setup(share);
    for (let seq = 1; seq <= 10; seq++) {
      c.received('a', seq);
      vi.advanceTimersByTime(100);
    }
    expect(frames.filter((f) => f[1] === 'delivered')).toHaveLength(10);
    expect(frames.filter((f) => f[1] === 'read')).toHaveLength(reads);
  });

  it('flush() returns the frames it sent; stop() drops what is queued', () => {
    const { c, frames } = setup(1);
    c.received('a', 5);
    expect(c.flush()).toBe(2);
    c.received('a', 6);
    c.stop();
    vi.advanceTimersByTime(1_000);
    expect(frames).toEqual([
      ['a', 'delivered', 5],
      ['a', 'read', 5],
    ]);
  });
});

describe('ReceiptTracker (the sender: seq → scheduled time until a delivered receipt covers it)', () => {
  it('returns each message once, when the first receipt covering its seq arrives', () => {
    const t = new ReceiptTracker<string>();
    expect(t.sent(3, 'm3')).toBeUndefined();
    expect(t.sent(5, 'm5')).toBeUndefined();
    expect(t.sent(8, 'm8')).toBeUndefined();
    expect(t.delivered(5).sort()).toEqual(['m3', 'm5']);
    expect(t.delivered(5)).toEqual([]);
    expect(t.delivered(4)).toEqual([]); // an older watermark
    expect(t.waiting).toBe(1);
    expect(t.delivered(9)).toEqual(['m8']);
    expect(t.waiting).toBe(0);
  });

  it('a message.sent that arrives after a receipt already covering it counts at once', () => {
    const t = new ReceiptTracker<string>();
    t.delivered(10);
    expect(t.sent(9, 'late')).toBe('late');
    expect(t.sent(11, 'next')).toBeUndefined();
    expect(t.waiting).toBe(1);
  });
});
