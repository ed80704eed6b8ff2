import { describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import type { StreamEvent } from '../projection';
import { CommitQueue, MAX_BATCHES_BEHIND, type CommitQueueOptions, type Routed } from './commitQueue';

function routed(seqs: number[], o: Partial<Routed> = {}): Routed {
  return {
    msgs: seqs.map((seq) => ({ seq }) as JsMsg),
    events: seqs.map((streamSeq) => ({ streamSeq, event: {} as StreamEvent })),
    delivering: undefined,
    started: performance.now(),
    ...o,
  };
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A queue whose commits each wait for the test to end them, in order. */
function queue(o: Partial<CommitQueueOptions> = {}) {
  const commits: Array<{ batch: Routed; done: Deferred }> = [];
  const waiting: Array<() => void> = [];
  const q = new CommitQueue({
    batchSize: 10,
    intervalMs: 0,
    mayGather: () => true,
    commit: (batch) => {
      const done = deferred();
      commits.push({ batch, done });
      waiting.splice(0).forEach((w) => w());
      return done.promise;
    },
    ...o,
  });
  const nextCommit = async (n: number) => {
    while (commits.length < n) await new Promise<void>((r) => waiting.push(r));
    return commits[n - 1]!;
  };
  return { q, commits, nextCommit };
}

const seqsOf = (b: Routed) => b.events.map((e) => e.streamSeq);

describe('CommitQueue', () => {
  it('commits what was routed while a commit ran as one transaction, in order', async () => {
    const { q, commits, nextCommit } = queue();
    const a = routed([1, 2]);
    q.push(a);
    const first = await nextCommit(1);
    const b = routed([3]);
    q.push(b);
    q.push(routed([4, 5]));
    expect(commits).toHaveLength(1);
    first.done.resolve();
    const second = await nextCommit(2);
    expect(seqsOf(first.batch)).toEqual([1, 2]);
    expect(seqsOf(second.batch)).toEqual([3, 4, 5]);
    expect(second.batch.msgs.map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(second.batch.started).toBe(b.started);
    second.done.resolve();
    expect(await q.settle()).toBeUndefined();
    expect(commits).toHaveLength(2);
  });

  it.each([0, 1, 2, 3, 4, 5])('commits a batch routed %i microtasks after the last commit ended (no turn where it would wait for the next one)', async (ticks) => {
    const { q, commits, nextCommit } = queue();
    q.push(routed([1]));
    (await nextCommit(1)).done.resolve();
    for (let i = 0; i < ticks; i++) await Promise.resolve();
    q.push(routed([2]));
    (await nextCommit(2)).done.resolve();
    expect(await q.settle()).toBeUndefined();
    expect(commits.map((c) => seqsOf(c.batch))).toEqual([[1], [2]]);
  });

  it('hands the transaction every live publish of its batches, or none', async () => {
    const { q, nextCommit } = queue();
    q.push(routed([1]));
    const first = await nextCommit(1);
    expect(first.batch.delivering).toBeUndefined();
    const p1 = deferred();
    q.push(routed([2], { delivering: p1.promise }));
    q.push(routed([3]));
    first.done.resolve();
    const second = await nextCommit(2);
    let settled = false;
    void second.batch.delivering!.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    p1.resolve();
    await second.batch.delivering;
    second.done.resolve();
    await q.settle();
  });

  it('stops at the first failure: what was routed after it is dropped, and settle hands the failure over once', async () => {
    const { q, commits, nextCommit } = queue();
    q.push(routed([1, 2]));
    const first = await nextCommit(1);
    q.push(routed([3]));
    const err = new Error('deadlock');
    first.done.reject(err);
    await q.drain();
    expect(q.failed).toBe(true);
    expect(await q.settle()).toEqual({ msgs: first.batch.msgs, err });
    expect(q.failed).toBe(false);
    expect(await q.settle()).toBeUndefined();
    expect(commits).toHaveLength(1);
    q.push(routed([1]));
    (await nextCommit(2)).done.resolve();
    expect(await q.settle()).toBeUndefined();
    expect(seqsOf(commits[1]!.batch)).toEqual([1]);
  });

  it('is behind once MAX_BATCHES_BEHIND batches of events wait', async () => {
    const { q, nextCommit } = queue({ batchSize: 2 });
    q.push(routed([1]));
    const first = await nextCommit(1);
    const seqs = Array.from({ length: MAX_BATCHES_BEHIND * 2 }, (_, i) => i + 2);
    q.push(routed(seqs.slice(0, -1)));
    expect(q.behind).toBe(false);
    q.push(routed(seqs.slice(-1)));
    expect(q.behind).toBe(true);
    first.done.resolve();
    (await nextCommit(2)).done.resolve();
    await q.settle();
    expect(q.behind).toBe(false);
  });

  it('gathers routed batches for the commit interval after the oldest one', async () => {
    const { q, commits, nextCommit } = queue({ intervalMs: 60 });
    const started = performance.now();
    q.push(routed([1], { started }));
    await new Promise((r) => setTimeout(r, 20));
    q.push(routed([2]));
    const c = await nextCommit(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(59);
    expect(seqsOf(c.batch)).toEqual([1, 2]);
    c.done.resolve();
    await q.settle();
    expect(commits).toHaveLength(1);
  });

  it('commits at once when a full batch is routed, or gathering is no longer allowed', async () => {
    let mayGather = true;
    const { q, nextCommit } = queue({ intervalMs: 60_000, batchSize: 3, mayGather: () => mayGather });
    q.push(routed([1]));
    await new Promise((r) => setTimeout(r, 10));
    q.push(routed([2, 3]));
    const first = await nextCommit(1);
    expect(seqsOf(first.batch)).toEqual([1, 2, 3]);
    first.done.resolve();
    q.push(routed([4]));
    await new Promise((r) => setTimeout(r, 10));
    mayGather = false;
    q.interrupt();
    const second = await nextCommit(2);
    expect(seqsOf(second.batch)).toEqual([4]);
    second.done.resolve();
    await q.settle();
  });
  it('commits at once when a reader hurries it, and the next batch too when nothing was routed', async () => {
    const { q, nextCommit } = queue({ intervalMs: 60_000 });
    q.push(routed([1]));
    await new Promise((r) => setTimeout(r, 10));
    q.push(routed([2]));
    q.hurry();
    const first = await nextCommit(1);
    expect(seqsOf(first.batch)).toEqual([1, 2]);
    first.done.resolve();
    await q.settle();
    // Nothing routed when the reader asked: the next batch does not gather.
    q.hurry();
    q.push(routed([3]));
    const second = await nextCommit(2);
    expect(seqsOf(second.batch)).toEqual([3]);
    second.done.resolve();
    // After that the interval applies again.
    q.push(routed([4]));
    const third = nextCommit(3);
    const outcome = await Promise.race([third.then(() => 'committed'), new Promise((r) => setTimeout(() => r('gathering'), 50))]);
    expect(outcome).toBe('gathering');
    q.hurry();
    (await third).done.resolve();
    await q.settle();
  });
});
