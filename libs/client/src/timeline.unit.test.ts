import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServerFrameOf, SyncedFrame } from '@chat/contracts';
import { messageNew as message } from './fakeSocket';
import type { AnswerOf } from './requests';
import { Timeline } from './timeline';

/** A sync the test answers. */
type PendingSync = { cursor: string | null; answer: (r: AnswerOf<'sync'>) => void; fail: (e: Error) => void };

let syncs: PendingSync[];
let got: string[];
let online: boolean;
const stats = () => ({ duplicatesDropped: 0, gapsRepaired: 0 });

function timeline(o: { cursor?: string | null; cursorSyncMs?: number; accepted?: (f: ServerFrameOf<'message.new'>) => void } = {}) {
  const s = stats();
  const t = new Timeline(
    {
      sync: (cursor) => new Promise((answer, fail) => syncs.push({ cursor, answer, fail })),
      connected: () => online,
      emit: (event, ...[f]) => got.push('seq' in f ? `${event} ${f.conversationId}@${f.seq}` : event),
      accepted: o.accepted,
      stats: s,
      cursorSyncMs: o.cursorSyncMs ?? 0,
    },
    o.cursor ?? null,
  );
  return { t, stats: s };
}
const batch = (frames: SyncedFrame[], cursor: string | null, hasMore = false): AnswerOf<'sync'> => ({ type: 'sync.batch', ref: 'r', frames, cursor, hasMore });
/** Answers the oldest unanswered sync, and lets what follows it run. */
async function answer(r: AnswerOf<'sync'>): Promise<void> {
  syncs.shift()!.answer(r);
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => {
  vi.useFakeTimers();
  syncs = [];
  got = [];
  online = true;
});
afterEach(() => vi.useRealTimers());

describe('Timeline', () => {
  it('emits live messages at once; the cursor moves only with a sync, run shortly after live traffic', async () => {
    const { t } = timeline({ cursor: 'c1_0', cursorSyncMs: 500 });
    t.live(message('a', 1, 'c1_1'));
    t.live(message('a', 2, 'c1_2'));
    expect(got).toEqual(['message a@1', 'message a@2']);
    expect(t.cursor).toBe('c1_0');
    await vi.advanceTimersByTimeAsync(499);
    expect(syncs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(syncs.map((s) => s.cursor)).toEqual(['c1_0']);
    await answer(batch([message('a', 1), message('a', 2)], 'c1_2'));
    expect(t.cursor).toBe('c1_2');
    expect(got).toHaveLength(2);
  });

  it('drops a message already seen, counting it', async () => {
    const { t, stats } = timeline();
    t.live(message('a', 1));
    t.live(message('a', 1));
    const run = t.syncAll();
    await answer(batch([message('a', 1), message('a', 2)], 'c1_2'));
    await expect(run).resolves.toBe(1);
    expect(got).toEqual(['message a@1', 'message a@2']);
    expect(stats.duplicatesDropped).toBe(2);
  });

  it('follows the batches while the server has more, moving the cursor after each', async () => {
    const { t } = timeline({ cursor: 'c1_0' });
    const run = t.syncAll(2);
    await answer(batch([message('a', 1), message('a', 2)], 'c1_2', true));
    expect(t.cursor).toBe('c1_2');
    expect(syncs.map((s) => s.cursor)).toEqual(['c1_2']);
    await answer(batch([message('a', 3)], 'c1_3'));
    await expect(run).resolves.toBe(3);
    expect(t.cursor).toBe('c1_3');
  });

  it('holds a live message after a hole until a sync brings what is missing', async () => {
    const { t, stats } = timeline();
    t.live(message('a', 1));
    t.live(message('a', 3));
    expect(got).toEqual(['message a@1']);
    expect(stats.gapsRepaired).toBe(1);
    await answer(batch([message('a', 2), message('a', 3)], 'c1_3'));
    expect(got).toEqual(['message a@1', 'message a@2', 'message a@3']);
  });

  it('holds live frames during a sync and releases them after it, per conversation in seq order', async () => {
    const { t } = timeline();
    const run = t.syncAll();
    t.live(message('b', 2));
    t.live(message('a', 1));
    t.live(message('b', 1));
    expect(got).toEqual([]);
    await answer(batch([], null));
    await expect(run).resolves.toBe(3);
    expect(got).toEqual(['message a@1', 'message b@1', 'message b@2']);
  });

  it('a frame held before hello waits for the next sync and does not move the cursor', async () => {
    const { t } = timeline({ cursor: 'c1_1' });
    t.hold(message('a', 2, 'c1_2'));
    expect(got).toEqual([]);
    void t.catchUp();
    await answer(batch([message('a', 1, 'c1_1')], 'c1_1'));
    expect(got).toEqual(['message a@1', 'message a@2']);
    expect(t.cursor).toBe('c1_1');
  });

  it('one sync at a time; a fresh catch-up queues one more after the running one, shared', async () => {
    const { t } = timeline({ cursor: 'c1_3' });
    const a = t.syncAll();
    expect(t.syncAll()).toBe(a);
    void t.catchUp(true);
    void t.catchUp(true);
    expect(syncs).toHaveLength(1);
    await answer(batch([], 'c1_4'));
    expect(syncs.map((s) => s.cursor)).toEqual(['c1_4']);
  });

  it('reports a reset when the server no longer has the cursor', async () => {
    const { t } = timeline({ cursor: 'c1_1' });
    void t.catchUp();
    await answer({ type: 'sync.reset', ref: 'r', reason: 'too old' });
    expect(got).toEqual(['reset']);
    const run = t.syncAll();
    await answer({ type: 'sync.reset', ref: 'r', reason: 'too old' });
    await expect(run).resolves.toBe('reset');
    expect(got).toEqual(['reset']); // syncAll returns it; only catch-ups emit it
  });

  it('a failed sync keeps what it held and, while connected, tries again after 1 s', async () => {
    const { t } = timeline();
    const run = t.syncAll();
    t.live(message('a', 1));
    syncs.shift()!.fail(new Error('closed'));
    await expect(run).rejects.toThrow('closed');
    expect(got).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    await answer(batch([], null));
    expect(got).toEqual(['message a@1']);
  });

  it('an own send counts as seen: the sync that brings it drops it', async () => {
    const { t, stats } = timeline();
    t.markOwn('a', 1);
    const run = t.syncAll();
    await answer(batch([message('a', 1)], 'c1_1'));
    await expect(run).resolves.toBe(0);
    expect(stats.duplicatesDropped).toBe(1);
  });

  it('tells `accepted` of each new message after it was emitted, not of edits or duplicates', () => {
    const { t } = timeline({ accepted: (f) => got.push(`ack ${f.conversationId}@${f.seq}`) });
    t.live(message('a', 1));
    t.live(message('a', 1));
    t.live({ type: 'message.edited', conversationId: 'a', messageId: 'a-1', seq: 1, body: { text: 'x' }, editedAt: 'now' });
    expect(got).toEqual(['message a@1', 'ack a@1', 'edited a@1']);
  });

  it('stop cancels the pending cursor sync', async () => {
    const { t } = timeline({ cursorSyncMs: 100 });
    t.live(message('a', 1));
    t.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(syncs).toHaveLength(0);
  });
});
