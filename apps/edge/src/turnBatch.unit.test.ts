import { describe, expect, it } from 'vitest';
import { TurnBatch } from './turnBatch';

/** A batch whose calls are recorded and answered by doubling each request. */
function doubling(opts: { maxWeight?: number; fail?: (requests: readonly number[]) => boolean } = {}) {
  const calls: number[][] = [];
  const batch = new TurnBatch<number, number>({
    run: (requests) => {
      calls.push([...requests]);
      return opts.fail?.(requests) ? Promise.reject(new Error('statement failed')) : Promise.resolve(requests.map((r) => r * 2));
    },
    maxWeight: opts.maxWeight ?? 100,
    weight: (r) => r,
  });
  return { batch, calls };
}

describe('TurnBatch (given lookups asked for in the same turn, then …)', () => {
  it('answers every request of a turn from one call, each with its own result', async () => {
    const { batch, calls } = doubling();
    const answers = await Promise.all([1, 2, 3].map((r) => batch.get(r)));
    expect(answers).toEqual([2, 4, 6]);
    expect(calls).toEqual([[1, 2, 3]]);
    expect(batch.stats).toEqual({ requests: 3, calls: 1 });
  });

  it('makes one call per turn: a request of a later turn waits for its own', async () => {
    const { batch, calls } = doubling();
    const first = batch.get(1);
    await first;
    await batch.get(5);
    expect(calls).toEqual([[1], [5]]);
  });

  it('splits a turn whose weights add up to more than maxWeight, keeping the order', async () => {
    const { batch, calls } = doubling({ maxWeight: 10 });
    const answers = await Promise.all([4, 5, 3, 9, 20].map((r) => batch.get(r)));
    expect(answers).toEqual([8, 10, 6, 18, 40]);
    // A request heavier than maxWeight alone still gets its call.
    expect(calls).toEqual([[4, 5], [3], [9], [20]]);
  });

  it('fails the requests of a failed call, and only them', async () => {
    const { batch } = doubling({ maxWeight: 10, fail: (requests) => requests.includes(7) });
    const results = await Promise.allSettled([2, 7, 6].map((r) => batch.get(r)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ message: 'statement failed' });
    expect((results[2] as PromiseFulfilledResult<number>).value).toBe(12);
  });

  it('fails a request left without a result instead of leaving it waiting', async () => {
    const batch = new TurnBatch<number, number>({ run: (requests) => Promise.resolve(requests.slice(1)), maxWeight: 10 });
    const results = await Promise.allSettled([1, 2].map((r) => batch.get(r)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });
});
