import { describe, expect, it } from 'vitest';
import { RetryLater } from '../projection';
import { OutOfOrder } from './applier';
import { FailurePolicy, pauseAfter } from './failurePolicy';

const boom = new Error('boom');

/** What the policy decides for failures in turn, each `[head, size]`, as `kind` or `kind attempts`. */
function kinds(failures: Array<[head: number, size: number]>, maxDeliver = 3, policy = new FailurePolicy()): string[] {
  return failures.map(([head, size]) => policy.failed(boom, head, size, maxDeliver)).map((a) => ('attempts' in a ? `${a.kind} ${a.attempts}` : a.kind));
}

describe('FailurePolicy', () => {
  it('postpones a batch a projection asked to retry later, without isolating', () => {
    const policy = new FailurePolicy();
    expect(policy.failed(new RetryLater('receipts lag'), 10, 5, 3)).toEqual({ kind: 'postpone', reason: 'receipts lag' });
    expect(policy.isolating).toBe(false);
  });

  it('re-reads a batch out of order, without isolating', () => {
    const policy = new FailurePolicy();
    expect(policy.failed(new OutOfOrder('seq 4 after 5'), 10, 5, 3)).toEqual({ kind: 'reread' });
    expect(policy.isolating).toBe(false);
  });

  it('isolates after a failed batch, then retries the head alone until max_deliver, then dead-letters it', () => {
    expect(kinds([[10, 5], [10, 1], [10, 1], [10, 1]])).toEqual(['isolate', 'retry 1', 'retry 2', 'deadLetter 3']);
  });

  it('keeps counting the head until it is passed (a dead-lettering that failed is tried again)', () => {
    expect(kinds([[10, 5], [10, 1], [10, 1], [10, 1]], 2)).toEqual(['isolate', 'retry 1', 'deadLetter 2', 'deadLetter 3']);
  });

  it('counts a new head from one', () => {
    expect(kinds([[10, 5], [10, 1], [10, 1], [11, 1]])).toEqual(['isolate', 'retry 1', 'retry 2', 'retry 1']);
  });

  it('isolates again when a batch of several fails while isolating, keeping the head count', () => {
    expect(kinds([[10, 5], [10, 1], [10, 2], [10, 1]])).toEqual(['isolate', 'retry 1', 'isolate', 'retry 2']);
  });

  it('never dead-letters with an unlimited max_deliver', () => {
    const singles = Array.from({ length: 10 }, (): [number, number] => [10, 1]);
    expect(kinds([[10, 5], ...singles], -1)).toEqual(['isolate', ...singles.map((_, i) => `retry ${i + 1}`)]);
  });

  it('goes back to whole batches once recovered', () => {
    const policy = new FailurePolicy();
    kinds([[10, 5], [10, 1]], 3, policy);
    policy.recovered();
    expect(policy.isolating).toBe(false);
    expect(kinds([[10, 1], [10, 1]], 3, policy)).toEqual(['isolate', 'retry 1']);
  });

  it('an unreadable event isolates: its first failure alone is an attempt', () => {
    const policy = new FailurePolicy();
    policy.isolate();
    expect(policy.isolating).toBe(true);
    expect(kinds([[10, 1]], 3, policy)).toEqual(['retry 1']);
  });
});

describe('pauseAfter', () => {
  it('waits 5 s after a refusal', () => {
    expect([1, 2, 10].map((n) => pauseAfter('refused', n))).toEqual([5_000, 5_000, 5_000]);
  });

  it('backs off from 100 ms up to 2 s for a postponed batch', () => {
    expect([1, 2, 3, 5, 6, 20].map((n) => pauseAfter('wait', n))).toEqual([100, 200, 400, 1_600, 2_000, 2_000]);
  });

  it('backs off from 200 ms up to 10 s after a failure', () => {
    expect([1, 2, 3, 6, 7, 20].map((n) => pauseAfter('failed', n))).toEqual([200, 400, 800, 6_400, 10_000, 10_000]);
  });
});
