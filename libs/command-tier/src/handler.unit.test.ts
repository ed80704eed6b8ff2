import { describe, expect, it } from 'vitest';
import { names, type ChatEvent, type CommandOf } from '@chat/contracts';
import { DEFAULT_RULES } from '@chat/domain';
import { messageSent } from '@chat/domain/fixtures';
import { ConcurrencyError, InMemoryEventStore } from '@chat/nats';
import { Aggregates } from './aggregates';
import { conversation } from './kinds';
import { InMemorySnapshotStore } from './snapshots/store';
import { MAX_ATTEMPTS, type HandlerContext, type HandOver } from './handler';
import { Fenced } from './fence';
import { KeyedQueue } from './keyedQueue';
import { runConversationCommand } from './conversationCommand';

const n = names('');
const at = '2030-01-01T00:00:00.000Z';
const conv = 'g1';
const subject = n.subjects.evtConv(conv);
const created: ChatEvent = { type: 'ConversationCreated', v: 1, conversationId: conv, kind: 'group', createdBy: 'a', members: [{ userId: 'a', role: 'owner' }], at };
const sentEvent = (seq: number, clientMsgId: string): ChatEvent =>
  messageSent({ conversationId: conv, messageId: `m-${clientMsgId}`, seq, senderId: 'a', senderDeviceId: 'd', clientMsgId, body: { text: 'x' }, sentAt: at });
let ids = 0;
const send = (clientMsgId: string): CommandOf<'SendMessage'> => ({
  type: 'SendMessage',
  v: 1,
  meta: { commandId: `c${ids++}`, requestId: 'r', userId: 'a', deviceId: 'd', edgeId: 'e', at },
  data: { conversationId: conv, messageId: `m-${clientMsgId}`, clientMsgId, body: { text: 'x' } },
});

async function setup() {
  const store = new InMemoryEventStore();
  await store.append(subject, [created], 0, 'create');
  const ctx: HandlerContext = { aggregates: new Aggregates(store, new InMemorySnapshotStore(), { cacheBytes: 1 << 20, snapshotEvery: 100, snapshotAfterMs: 60_000 }), names: n, stats: { conflicts: 0 }, rules: DEFAULT_RULES, exclusive: (_id, task) => task() };
  return { store, ctx };
}

/** The next append finds that another writer appended to the conversation first (once). */
function anotherWriterFirst(store: InMemoryEventStore): void {
  let raced = false;
  store.beforeAppend = async () => {
    if (raced) return;
    raced = true;
    const { lastSubjectSeq } = await store.load(subject);
    await store.append(subject, [sentEvent(2, 'other')], lastSubjectSeq, 'elsewhere');
  };
}

describe('handle (given a conversation, when a send races, then …)', () => {
  it('reloads and decides again when another writer appended first', async () => {
    const { store, ctx } = await setup();
    await runConversationCommand(ctx, send('warm')); // cache holds seq 1
    anotherWriterFirst(store);
    expect(await runConversationCommand(ctx, send('mine'))).toMatchObject({ seq: 3, clientMsgId: 'mine' });
    expect(ctx.stats.conflicts).toBe(1);
    expect(store.events(subject).map((e) => (e.type === 'MessageSent' ? e.clientMsgId : e.type))).toEqual(['ConversationCreated', 'warm', 'other', 'mine']);
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts with the ConcurrencyError`, async () => {
    const { store, ctx } = await setup();
    let seq = 0;
    let competing = false;
    store.beforeAppend = async () => {
      if (competing) return;
      competing = true;
      const { lastSubjectSeq } = await store.load(subject);
      await store.append(subject, [sentEvent(++seq, `other-${seq}`)], lastSubjectSeq, `elsewhere-${seq}`);
      competing = false;
    };
    await expect(runConversationCommand(ctx, send('starved'))).rejects.toBeInstanceOf(ConcurrencyError);
    expect(ctx.stats.conflicts).toBe(MAX_ATTEMPTS - 1);
  });

  it('keeps the cached state as it was when an append fails, whether or not the append landed', async () => {
    const { store, ctx } = await setup();
    await runConversationCommand(ctx, send('warm'));
    const before = ctx.aggregates.peek(subject)!;
    store.beforeAppend = () => {
      throw new Error('connection lost');
    };
    await expect(runConversationCommand(ctx, send('lost'))).rejects.toThrow('connection lost');
    expect(ctx.aggregates.peek(subject)).toEqual(before);
    // The next send decides on that state: seq 2, nothing of the failed one in it.
    store.beforeAppend = undefined;
    expect(await runConversationCommand(ctx, send('next'))).toMatchObject({ seq: 2, clientMsgId: 'next' });
    // An append that landed but whose answer was lost: the expected sequence catches the stale entry.
    store.beforeAppend = async () => {
      store.beforeAppend = undefined;
      const { lastSubjectSeq } = await store.load(subject);
      await store.append(subject, [sentEvent(3, 'landed')], lastSubjectSeq, 'landed');
      throw new Error('timeout');
    };
    await expect(runConversationCommand(ctx, send('landed'))).rejects.toThrow('timeout');
    expect(await runConversationCommand(ctx, send('landed'))).toMatchObject({ seq: 3, clientMsgId: 'landed' });
    expect(store.events(subject).map((e) => (e.type === 'MessageSent' ? e.clientMsgId : e.type))).toEqual(['ConversationCreated', 'warm', 'next', 'landed']);
  });

  it('answers a domain error without appending and keeps the cache', async () => {
    const { store, ctx } = await setup();
    const intruder = { ...send('x'), meta: { ...send('x').meta, userId: 'mallory' } };
    await expect(runConversationCommand(ctx, intruder)).rejects.toMatchObject({ code: 'forbidden' });
    expect(store.events(subject)).toHaveLength(1);
    expect(ctx.aggregates.peek(subject)).toBeDefined();
  });
});

describe('handle with a HandOver (an edge hosting the tier)', () => {
  function recording(claimWhen: (expected: number) => boolean) {
    const calls: string[] = [];
    const handOver: HandOver = {
      claim: (conversationId, expected) => (calls.push(`claim ${conversationId} ${expected}`), claimWhen(expected) ? { 'Chat-Handed-By': 'e1' } : undefined),
      stored: (event, streamSeq, members) => void calls.push(`stored ${event.clientMsgId} ${streamSeq} ${members.join(',')}`),
      unsure: (conversationId, members) => void calls.push(`unsure ${conversationId} ${members.join(',')}`),
    };
    return { calls, handOver };
  }

  it('claims a message before its append, stamps the append and hands it over once stored', async () => {
    const { store, ctx } = await setup();
    const { calls, handOver } = recording(() => true);
    ctx.handOver = handOver;
    expect(await runConversationCommand(ctx, send('one'))).toMatchObject({ seq: 1 });
    expect(calls).toEqual(['claim g1 1', 'stored one 2 a']);
    expect(store.headers(subject)).toEqual([undefined, { 'Chat-Handed-By': 'e1' }]);
  });

  it('appends unstamped and hands nothing over when the host declines, and never claims what is not a message', async () => {
    const { store, ctx } = await setup();
    const { calls, handOver } = recording(() => false);
    ctx.handOver = handOver;
    await runConversationCommand(ctx, send('one'));
    const rename: CommandOf<'UpdateConversation'> = { type: 'UpdateConversation', v: 1, meta: { ...send('x').meta }, data: { conversationId: conv, title: 'renamed' } };
    await runConversationCommand(ctx, rename);
    expect(calls).toEqual(['claim g1 1']);
    expect(store.headers(subject)).toEqual([undefined, undefined, undefined]);
  });

  it('claims again on the reloaded state after a race, and reports an append that may have landed as unsure', async () => {
    const { store, ctx } = await setup();
    const { calls, handOver } = recording(() => true);
    ctx.handOver = handOver;
    await runConversationCommand(ctx, send('warm'));
    anotherWriterFirst(store);
    await runConversationCommand(ctx, send('mine'));
    // A lost race proves nothing was stored: claimed again on the new state, no unsure.
    expect(calls).toEqual(['claim g1 1', 'stored warm 2 a', 'claim g1 2', 'claim g1 3', 'stored mine 4 a']);
    calls.length = 0;
    store.beforeAppend = () => {
      throw new Error('timeout');
    };
    await expect(runConversationCommand(ctx, send('lost'))).rejects.toThrow('timeout');
    expect(calls).toEqual(['claim g1 4', 'unsure g1 a']);
    calls.length = 0;
    store.beforeAppend = () => {
      throw new Fenced('not owned');
    };
    await expect(runConversationCommand(ctx, send('fenced'))).rejects.toBeInstanceOf(Fenced);
    expect(calls).toEqual(['claim g1 4']);
  });
});

describe('KeyedQueue', () => {
  it('runs one key in call order and other keys alongside', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string, ms: number) => () => new Promise<void>((r) => setTimeout(() => (log.push(name), r()), ms));
    await Promise.all([q.run('a', task('a1', 30)), q.run('a', task('a2', 1)), q.run('b', task('b1', 10)), q.run('a', () => Promise.reject(new Error('x'))).catch(() => undefined), q.run('a', task('a3', 1))]);
    expect(log).toEqual(['b1', 'a1', 'a2', 'a3']);
    expect(q.size).toBe(0);
  });
});

describe('Aggregates: the cache', () => {
  it('stays within its byte budget, dropping the least recently used state', async () => {
    const store = new InMemoryEventStore();
    const subjects = ['g1', 'g2', 'g3'].map((id) => n.subjects.evtConv(id));
    for (const [i, s] of subjects.entries()) await store.append(s, [{ ...created, conversationId: `g${i + 1}` }], 0, `create-${i}`);
    const one = conversation.bytes({ ...(await new Aggregates(store, new InMemorySnapshotStore(), { cacheBytes: 0, snapshotEvery: 100, snapshotAfterMs: 1 }).get(subjects[0]!, conversation)).state });
    // Room for two states of this size.
    const aggregates = new Aggregates(store, new InMemorySnapshotStore(), { cacheBytes: 2 * one + one / 2, snapshotEvery: 100, snapshotAfterMs: 60_000 });
    await aggregates.get(subjects[0]!, conversation);
    await aggregates.get(subjects[1]!, conversation);
    await aggregates.get(subjects[0]!, conversation); // g1 is now the most recently used
    await aggregates.get(subjects[2]!, conversation);
    expect([subjects.map((s) => aggregates.peek(s) !== undefined)]).toEqual([[true, false, true]]);
    expect(aggregates.bytes).toBe(2 * one);
    expect(aggregates.stats.evictions).toBe(1);
    const off = new Aggregates(store, new InMemorySnapshotStore(), { cacheBytes: 0, snapshotEvery: 100, snapshotAfterMs: 60_000 });
    await off.get(subjects[0]!, conversation);
    expect(off.size).toBe(0);
  });
});
