import { describe, expect, it } from 'vitest';
import { names, type ChatEvent, type CommandOf } from '@chat/contracts';
import { DEFAULT_RULES, type ConversationState } from '@chat/domain';
import { InMemoryEventStore } from '@chat/nats';
import { Aggregates } from '../aggregates';
import type { HandlerContext } from '../handler';
import { conversation } from '../kinds';
import { runConversationCommand } from '../conversationCommand';
import { InMemorySnapshotStore } from './store';

const n = names('');
const conv = 'busy';
const subject = n.subjects.evtConv(conv);
const start = Date.parse('2030-01-01T00:00:00.000Z');
const created: ChatEvent = {
  type: 'ConversationCreated',
  v: 1,
  conversationId: conv,
  kind: 'direct',
  createdBy: 'a',
  members: [
    { userId: 'a', role: 'member' },
    { userId: 'b', role: 'member' },
  ],
  at: new Date(start).toISOString(),
};
const send = (i: number, at: number): CommandOf<'SendMessage'> => ({
  type: 'SendMessage',
  v: 1,
  meta: { commandId: `c${i}`, requestId: `r${i}`, userId: i % 2 ? 'a' : 'b', deviceId: 'd', edgeId: 'e', at: new Date(at).toISOString() },
  data: { conversationId: conv, messageId: `m${i}`, clientMsgId: `k${i}`, body: { text: 'x' } },
});

describe('aggregate memory and reloads with snapshots (in memory)', () => {
  it('100,000 messages over a simulated day: the state stays bounded, and a reload reads only the events after the last snapshot', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    let now = start;
    const opts = { cacheBytes: 64 << 20, snapshotEvery: 100, snapshotAfterMs: 60_000, now: () => now };
    const aggregates = new Aggregates(store, snapshots, opts);
    const ctx: HandlerContext = { aggregates, names: n, stats: { conflicts: 0 }, rules: DEFAULT_RULES, exclusive: (_id, task) => task() };
    await store.append(subject, [created], 0, 'create');

    const N = 100_000;
    let bytesMax = 0;
    for (let i = 1; i <= N; i++) {
      now = start + Math.floor((i * 86_400_000) / N);
      const r = await runConversationCommand(ctx, send(i, now));
      // The command service's ticker (every 100 ms) writes what is due.
      if (i % 10 === 0) await aggregates.flushDue();
      if (i % 1000 === 0) {
        expect(r).toMatchObject({ seq: i });
        bytesMax = Math.max(bytesMax, conversation.bytes(aggregates.peek<ConversationState>(subject)!.state));
      }
    }
    // Bounded: the same size class at 1,000 messages and at 100,000.
    expect(bytesMax).toBeLessThan(500_000);
    expect(bytesMax).toBe(conversation.bytes(aggregates.peek<ConversationState>(subject)!.state));
    // Snapshots were written along the way, every `snapshotEvery` events.
    const snap = (await snapshots.get(subject))!;
    expect(snapshots.puts).toBeGreaterThanOrEqual(N / 100 - 1);
    const lastPosition = (await store.load(subject)).lastSubjectSeq;
    expect(lastPosition - snap.position).toBeLessThan(100 + 10);

    // Evicted (a restart, say): the reload reads the snapshot and the events after it only.
    const fresh = new Aggregates(store, snapshots, opts);
    const loaded = await fresh.get(subject, conversation);
    expect(fresh.stats.snapshotLoads).toBe(1);
    expect(fresh.stats.eventsReplayed).toBe(lastPosition - snap.position);
    expect(loaded.state).toMatchObject({ lastSeq: N });
    // And decides as before: a retry of a recent send is recognised, the next send gets N + 1.
    const fctx: HandlerContext = { ...ctx, aggregates: fresh };
    expect(await runConversationCommand(fctx, send(N, now))).toMatchObject({ seq: N, clientMsgId: `k${N}` });
    expect(await runConversationCommand(fctx, send(N + 1, now + 1))).toMatchObject({ seq: N + 1 });
  }, 60_000);

  it('a state with unsnapshotted events is snapshotted after the interval, and before it leaves the cache', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    let now = start;
    await store.append(subject, [created], 0, 'create');
    const other = n.subjects.evtConv('other');
    await store.append(other, [{ ...created, conversationId: 'other' }], 0, 'create-other');
    const aggregates = new Aggregates(store, snapshots, { cacheBytes: 64 << 20, snapshotEvery: 100, snapshotAfterMs: 10_000, now: () => now });
    const ctx: HandlerContext = { aggregates, names: n, stats: { conflicts: 0 }, rules: DEFAULT_RULES, exclusive: (_id, task) => task() };
    await runConversationCommand(ctx, send(1, now));
    await aggregates.flushDue();
    expect(await snapshots.get(subject)).toBeUndefined(); // not due yet
    now += 10_000;
    await aggregates.flushDue();
    expect((await snapshots.get(subject))?.position).toBe((await store.load(subject)).lastSubjectSeq);

    // A cache too small for two states: loading the other one evicts this one, which is snapshotted first.
    await runConversationCommand(ctx, send(2, now));
    const small = new Aggregates(store, snapshots, { cacheBytes: 1, snapshotEvery: 100, snapshotAfterMs: 10_000, now: () => now });
    const sctx: HandlerContext = { ...ctx, aggregates: small };
    await runConversationCommand(sctx, send(3, now));
    const before = snapshots.puts;
    await small.get(other, conversation);
    await new Promise((r) => setImmediate(r));
    expect(snapshots.puts).toBe(before + 1);
    expect((await snapshots.get(subject))?.position).toBe((await store.load(subject)).lastSubjectSeq);
  });
});
