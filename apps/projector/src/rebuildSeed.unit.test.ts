import { describe, expect, it } from 'vitest';
import { aggregateSubjectParser, names as namesFor, type ChatEvent, type SnapshotOf, type StoredEvent } from '@chat/contracts';
import { planRebuildSeed, scanRequests, SEED_DELETED_PREVIEW, SEED_EXPIRED_PREVIEW, type RebuildSnapshots, type StreamBounds } from '@chat/postgres';
import { conversationToSnapshot, evolveAll, initialState } from '@chat/domain';
import { DELETED_PREVIEW } from './conversations/evolve';
import { EXPIRED_PREVIEW } from './conversations/projection';
import { added, at, created, deleted, left, sent } from './testing/events';

const n = namesFor('x');
const T0 = Date.parse('2024-05-01T10:00:00.000Z');

/** A conversation snapshot folded from events, at stream position `position`. */
function convSnapshot(events: ChatEvent[], position: number): { subject: string; snapshot: SnapshotOf<'conversation'> } {
  const state = conversationToSnapshot(evolveAll(initialState(), events as Parameters<typeof evolveAll>[1]))!;
  return { subject: n.subjects.evtConv(state.conversationId), snapshot: { v: 1, kind: 'conversation', position, takenAt: new Date(T0).toISOString(), state } };
}

const snaps = (s: Partial<RebuildSnapshots>): RebuildSnapshots => ({ conversations: [], receipts: [], preferences: [], users: [], invalid: [], ...s });
const receiptSnap = (conversationId: string, userId: string, deliveredSeq: number, readSeq: number, position: number): RebuildSnapshots['receipts'][number] => ({
  subject: n.subjects.evtRcpt(conversationId, userId),
  conversationId,
  userId,
  snapshot: { v: 1, kind: 'receipt', position, takenAt: new Date(T0).toISOString(), state: { deliveredSeq, readSeq, devices: {} } },
});
/** The stream after every event up to `firstSeq - 1` aged out. */
const bounds = (firstSeq: number, lastSeq = 1000): StreamBounds => ({ firstSeq, firstTsMs: firstSeq > lastSeq ? null : T0 + 3_600_000, lastSeq });
const inStream = (subject: string, events: Array<[number, StoredEvent]>) => new Map([[subject, events.map(([streamSeq, event]) => ({ streamSeq, event }))]]);

describe('rebuild seed (pure planning)', () => {
  it('uses the projector\'s previews', () => {
    expect(SEED_EXPIRED_PREVIEW).toBe(EXPIRED_PREVIEW);
    expect(SEED_DELETED_PREVIEW).toBe(DELETED_PREVIEW);
  });

  it('parses snapshot keys and leaves out the rest', () => {
    const parse = aggregateSubjectParser(n);
    expect(parse(n.subjects.evtConv('g1'))).toEqual({ kind: 'conversation', conversationId: 'g1' });
    expect(parse(n.subjects.evtRcpt('g1', 'a.b'))).toEqual({ kind: 'receipt', conversationId: 'g1', userId: 'a.b' });
    expect(parse(n.subjects.pref('g1', 'bob'))).toEqual({ kind: 'preference', conversationId: 'g1', userId: 'bob' });
    expect(parse('keeper.position')).toBeNull();
    expect(parse(namesFor('y').subjects.evtConv('g1'))).toBeNull();
  });

  it('seeds a conversation whose events are all gone as of its snapshot, with exact unread counts from the message records', () => {
    const events = [created('g1', ['alice', 'bob', 'carol']), sent('g1', 1, 'alice'), sent('g1', 2, 'bob'), added('g1', 3, 'alice', ['dave']), sent('g1', 4, 'carol'), deleted('g1', 2, 'bob', 5)];
    const seed = planRebuildSeed(snaps({ conversations: [convSnapshot(events, 40)], receipts: [receiptSnap('g1', 'bob', 4, 1, 30)] }), bounds(101, 100), new Map());
    const [c] = seed.conversations;
    expect(c).toMatchObject({ conversationId: 'g1', lastSeq: 4, title: 'title g1', createdBy: 'alice' });
    expect(c!.members).toEqual([
      { userId: 'alice', role: 'owner', joinedAfterSeq: 0, joinedAt: at(0) },
      { userId: 'bob', role: 'member', joinedAfterSeq: 0, joinedAt: at(0) },
      { userId: 'carol', role: 'member', joinedAfterSeq: 0, joinedAt: at(0) },
      { userId: 'dave', role: 'member', joinedAfterSeq: 2, joinedAt: at(0) },
    ]);
    // seq 2 was deleted, seq 3 is a system message: only 4 (carol's) counts for alice and bob.
    expect(Object.fromEntries(c!.list.map((r) => [r.userId, [r.readSeq, r.unreadCount]]))).toEqual({ alice: [0, 1], bob: [1, 1], carol: [0, 1], dave: [3, 1] });
    expect(c!.list[0]!.lastMessage).toEqual({ messageId: 'm-g1-4', seq: 4, senderId: 'carol', sentAt: (events[4] as { sentAt: string }).sentAt, preview: SEED_EXPIRED_PREVIEW, expired: true });
    expect(c!.list.map((r) => r.version)).toEqual([40, 40, 40, 40]);
    expect(seed.receipts).toEqual([{ conversationId: 'g1', userId: 'bob', deliveredSeq: 4, readSeq: 1 }]);
  });

  it('counts entries older than the records as unread (an approximation) and shows a system tip as the last text message', () => {
    // An old conversation: records only for the last hour before its last event.
    const events: ChatEvent[] = [created('g2', ['alice', 'bob'])];
    for (let s = 1; s <= 5; s++) events.push({ ...sent('g2', s, s % 2 ? 'alice' : 'bob'), sentAt: new Date(T0 + s * 1000).toISOString() } as ChatEvent);
    events.push({ ...sent('g2', 6, 'alice'), sentAt: new Date(T0 + 5 * 3_600_000).toISOString() } as ChatEvent);
    events.push({ ...added('g2', 7, 'alice', ['carol']), at: new Date(T0 + 5 * 3_600_000 + 1000).toISOString() } as ChatEvent);
    const seed = planRebuildSeed(snaps({ conversations: [convSnapshot(events, 9)] }), bounds(50, 49), new Map());
    const [c] = seed.conversations;
    const bob = c!.list.find((r) => r.userId === 'bob')!;
    // 1..5 unknown (all counted, bob's own 2 and 4 too), 6 known (alice's), 7 system.
    expect(bob.unreadCount).toBe(6);
    expect(c!.list.find((r) => r.userId === 'alice')!.unreadCount).toBe(5);
    expect(bob.lastMessage).toMatchObject({ messageId: 'm-g2-6', seq: 6, expired: true });
    expect(bob.lastActivityAt).toBe(new Date(T0 + 5 * 3_600_000 + 1000).toISOString());
  });

  it('leaves a conversation created in the stream to the replay', () => {
    const events = [created('g3', ['alice', 'bob']), sent('g3', 1, 'alice')];
    const snapshot = convSnapshot(events, 12);
    const subject = snapshot.subject;
    const b = { firstSeq: 10, firstTsMs: Date.parse(at(0)), lastSeq: 20 };
    expect(scanRequests(snaps({ conversations: [snapshot] }), b)).toEqual(new Map([[subject, 12]]));
    const seed = planRebuildSeed(snaps({ conversations: [snapshot] }), b, inStream(subject, [[10, events[0]!], [12, events[1]!]]));
    expect(seed.conversations).toEqual([]);
    expect(seed.stats.conversationsInStream).toBe(1);
    // Created well after the stream's first message: not even read.
    expect(scanRequests(snaps({ conversations: [snapshot] }), { ...b, firstTsMs: Date.parse(at(0)) - 3_600_000 }).size).toBe(0);
  });

  it('seeds as of the part of the timeline the stream lost: memberships of the stream\'s part undone', () => {
    const early = [created('g4', ['alice', 'bob', 'carol']), sent('g4', 1, 'alice'), sent('g4', 2, 'bob')];
    const late = [added('g4', 3, 'alice', ['dave']), left('g4', 4, 'carol'), sent('g4', 5, 'dave')];
    const snapshot = convSnapshot([...early, ...late], 53);
    const seed = planRebuildSeed(
      snaps({ conversations: [snapshot], receipts: [receiptSnap('g4', 'bob', 5, 5, 54), receiptSnap('g4', 'alice', 2, 2, 20)] }),
      bounds(50, 60),
      inStream(snapshot.subject, [[50, late[0]!], [51, late[1]!], [53, late[2]!]]).set(n.subjects.evtRcpt('g4', 'bob'), [
        { streamSeq: 54, event: { type: 'MessagesRead', v: 1, conversationId: 'g4', userId: 'bob', deviceId: 'p', upToSeq: 5, at: at(5) } },
      ]),
    );
    const [c] = seed.conversations;
    expect(c!.lastSeq).toBe(2);
    expect(c!.members.map((m) => m.userId)).toEqual(['alice', 'bob', 'carol']);
    expect(Object.fromEntries(c!.list.map((r) => [r.userId, [r.readSeq, r.unreadCount, r.version]]))).toEqual({ alice: [2, 0, 49], bob: [5, 0, 49], carol: [0, 2, 49] });
    expect(c!.list[0]!.lastMessage).toMatchObject({ seq: 2, senderId: 'bob', expired: true });
    // bob's read is in the stream (the replay sets it with its time); alice's is not.
    expect(seed.receipts).toEqual([{ conversationId: 'g4', userId: 'alice', deliveredSeq: 2, readSeq: 2 }]);
    expect(seed.stats.receiptsInStream).toBe(1);
  });
});
