import { describe, expect, it } from 'vitest';
import { ConversationSnapshotState, LIMITS } from '@chat/contracts';
import { decide } from './decide';
import { evolve } from './evolve';
import { after, cmd, groupCreated, MIN, sent, stateOf } from './fixtures';
import { DEFAULT_RULES } from './rules';
import { conversationFromSnapshot, conversationStateBytes, conversationToSnapshot } from './snapshot';
import { DEFAULT_STATE_LIMITS, initialState, type ActiveConversation, type ConversationState } from './state';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** A group of 3 where alice and bob send `n` messages evenly over `spanMs`. */
function busyGroup(n: number, spanMs: number): ActiveConversation {
  let state: ConversationState = evolve(initialState(), groupCreated('alice', ['bob', 'carol']));
  for (let i = 1; i <= n; i++) state = evolve(state, sent(i, i % 2 ? 'alice' : 'bob', `m${i}`, { at: after(Math.floor((i * spanMs) / n)) }));
  if (state.status !== 'active') throw new Error('no conversation');
  return state;
}

describe('a conversation state is bounded, whatever its age and rate', () => {
  const state = busyGroup(100_000, DAY);
  const snapshot = conversationToSnapshot(state)!;

  it('keeps 100,000 messages sent over a day as the last seq and a bounded window of records', () => {
    expect(state.lastSeq).toBe(100_000);
    expect(state.members.size).toBe(3);
    expect(state.sent.size).toBeLessThanOrEqual(LIMITS.clientMsgIdWindowEntries);
    expect(state.messages.size).toBeLessThanOrEqual(LIMITS.recentMessageRecords);
    // Only the newest records stay: the oldest kept is within the last hour and the cap.
    const oldest = state.messages.values().next().value!;
    expect(oldest.seq).toBe(100_000 - LIMITS.recentMessageRecords + 1);
    expect(conversationStateBytes(state)).toBeLessThan(500_000);
    // The snapshot is the same size class, well under NATS's 1 MiB payload.
    expect(JSON.stringify(snapshot).length).toBeLessThan(300_000);
    expect(ConversationSnapshotState.parse(snapshot)).toEqual(snapshot);
  });

  it('drops records by age too: two hours of quiet, then one message, keeps only that one', () => {
    const quiet = busyGroup(50, 10 * MIN);
    const later = evolve(quiet, sent(51, 'alice', 'late', { at: after(10 * MIN + 2 * HOUR) })) as ActiveConversation;
    expect([...later.messages.keys()]).toEqual(['late']);
    // Client ids are kept for the idempotency window (24 h): all 51 are still there.
    expect(later.sent.size).toBe(51);
    expect(DEFAULT_STATE_LIMITS.messageWindowMs).toBe(Math.max(LIMITS.defaultEditWindowMs, LIMITS.defaultDeleteWindowMs));
  });
});

describe('a state read back from its snapshot decides like the state it came from', () => {
  const original = busyGroup(2_000, 2 * HOUR);
  const restored = conversationFromSnapshot(ConversationSnapshotState.parse(JSON.parse(JSON.stringify(conversationToSnapshot(original)))));
  const at = after(2 * HOUR + MIN);
  const commands = [
    // A retry of a recent send: nothing new.
    cmd('SendMessage', 'alice', { messageId: 'again', clientMsgId: 'k-m1999', body: { text: 'x' } }, at),
    // A new send: the next seq.
    cmd('SendMessage', 'bob', { messageId: 'new', clientMsgId: 'fresh', body: { text: 'x' }, replyTo: 'm2000' }, at),
    // An edit inside the window; a delete for everyone by its author inside the window.
    cmd('EditMessage', 'bob', { messageId: 'm2000', body: { text: 'fixed' } }, at),
    cmd('DeleteMessage', 'alice', { messageId: 'm1999', scope: 'everyone' }, at),
    // A member who is not the author.
    cmd('EditMessage', 'carol', { messageId: 'm2000', body: { text: 'no' } }, at),
  ];
  for (const c of commands) {
    it(`${c.type} by ${c.meta.userId}`, () => {
      const outcome = (s: ConversationState) => {
        try {
          return decide(c, s, DEFAULT_RULES);
        } catch (e) {
          return { error: (e as { code: string }).code };
        }
      };
      expect(outcome(restored)).toEqual(outcome(original));
    });
  }

  it('holds the conversation itself: kind, title, members, roles, last seq and last message', () => {
    expect(restored).toMatchObject({ kind: 'group', title: 'team', createdBy: 'alice', lastSeq: 2_000, lastMessage: { messageId: 'm2000', seq: 2_000, senderId: 'bob' } });
    expect([...restored.members]).toEqual([...original.members]);
  });
});

describe('a message the state no longer keeps, found in the stream (`referenced`)', () => {
  // m1 was sent two hours before the newest message: its record is gone from the state.
  const given = [groupCreated('alice', ['bob'], ['adam']), sent(1, 'bob', 'm1'), sent(2, 'alice', 'm2', { at: after(2 * HOUR) })];
  const state = stateOf(given);
  const m1 = { seq: 1, senderId: 'bob', sentAtMs: Date.parse(after(0)), deleted: false };
  const at = after(2 * HOUR + MIN);

  it('without it: not found', () => {
    expect(() => decide(cmd('DeleteMessage', 'bob', { messageId: 'm1', scope: 'me' }, at), state)).toThrow(expect.objectContaining({ code: 'not_found' }));
  });
  it('hidden for me by a member, with its seq', () => {
    expect(decide(cmd('DeleteMessage', 'alice', { messageId: 'm1', scope: 'me' }, at), state, DEFAULT_RULES, m1)).toMatchObject([{ type: 'MessageHidden', seq: 1, userId: 'alice' }]);
  });
  it('deleted for everyone by an admin at any time; not by its author past the window', () => {
    expect(decide(cmd('DeleteMessage', 'adam', { messageId: 'm1', scope: 'everyone' }, at), state, DEFAULT_RULES, m1)).toMatchObject([{ type: 'MessageDeleted', seq: 1 }]);
    expect(() => decide(cmd('DeleteMessage', 'bob', { messageId: 'm1', scope: 'everyone' }, at), state, DEFAULT_RULES, m1)).toThrow(expect.objectContaining({ code: 'forbidden' }));
  });
  it('replied to; not edited past the window', () => {
    expect(decide(cmd('SendMessage', 'alice', { messageId: 'm3', clientMsgId: 'r', body: { text: 're' }, replyTo: 'm1' }, at), state, DEFAULT_RULES, m1)).toMatchObject([{ type: 'MessageSent', seq: 3, replyTo: 'm1' }]);
    expect(() => decide(cmd('EditMessage', 'bob', { messageId: 'm1', body: { text: 'x' } }, at), state, DEFAULT_RULES, m1)).toThrow(expect.objectContaining({ code: 'forbidden' }));
  });
  it('invisible to a member who joined after it', () => {
    const withLate = evolve(stateOf(given), { type: 'MembersAdded', v: 1, conversationId: 'c1', seq: 3, by: 'alice', members: [{ userId: 'lena', role: 'member' }], at });
    expect(() => decide(cmd('DeleteMessage', 'lena', { messageId: 'm1', scope: 'me' }, at), withLate, DEFAULT_RULES, m1)).toThrow(expect.objectContaining({ code: 'not_found' }));
  });
});
