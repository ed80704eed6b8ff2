import { describe, expect, it } from 'vitest';
import { EVENT_CATALOGUE, names, type ConversationKind, type EventType } from '@chat/contracts';
import { PROJECTION_KEYS, type PoolClient } from '@chat/postgres';
import { eventsFor, isPreference } from './pipeline/applier';
import { LiveRouter } from './live/liveRouter';
import { MembershipCache } from './live/membership';
import type { StoredEvent, StreamEvent } from './projection';
import { buildProjection } from './projections';
import type { Router } from './routing';

// Checks EVENT_CATALOGUE (libs/contracts/src/catalogue.ts, docs/events.md) against what the
// projector's code does with one event of each type: its projections' writes, through a
// transaction that records statements, and its live router's frames and push jobs.

const n = names('t');
const at = '2024-05-01T10:00:00.000Z';
const conversationId = 'g-1';
const created = (kind: ConversationKind): StoredEvent => ({
  streamSeq: 1,
  event: {
    type: 'ConversationCreated',
    v: 1,
    conversationId,
    kind,
    createdBy: 'a',
    members: (kind === 'group' ? ['a', 'b', 'c'] : ['a', 'b']).map((userId, i) => ({ userId, role: i === 0 && kind === 'group' ? 'owner' : 'member' })),
    at,
  },
});
const base = { v: 1 as const, conversationId, at };
const receipt = { ...base, userId: 'b', deviceId: 'b-phone', upToSeq: 1 };
const SAMPLES: { [T in EventType]: Extract<StreamEvent, { type: T }> } = {
  ConversationCreated: created('group').event as Extract<StreamEvent, { type: 'ConversationCreated' }>,
  MessageSent: { ...base, type: 'MessageSent', messageId: 'm1', seq: 1, senderId: 'a', senderDeviceId: 'a-phone', clientMsgId: 'c1', body: { text: 'hi' }, sentAt: at },
  MembersAdded: { ...base, type: 'MembersAdded', seq: 1, by: 'a', members: [{ userId: 'd', role: 'member' }] },
  MemberRemoved: { ...base, type: 'MemberRemoved', seq: 1, by: 'a', userId: 'c' },
  MemberLeft: { ...base, type: 'MemberLeft', seq: 1, userId: 'c' },
  RolesChanged: { ...base, type: 'RolesChanged', by: 'a', changes: [{ userId: 'b', role: 'admin' }] },
  ConversationUpdated: { ...base, type: 'ConversationUpdated', by: 'a', title: 'renamed' },
  MessageEdited: { ...base, type: 'MessageEdited', messageId: 'm1', seq: 1, by: 'a', body: { text: 'edited' } },
  MessageDeleted: { ...base, type: 'MessageDeleted', messageId: 'm1', seq: 1, by: 'a' },
  MessageHidden: { ...base, type: 'MessageHidden', messageId: 'm1', seq: 1, userId: 'b' },
  MessagesDelivered: { ...receipt, type: 'MessagesDelivered' },
  MessagesRead: { ...receipt, type: 'MessagesRead' },
  MemberMuteChanged: { ...base, type: 'MemberMuteChanged', userId: 'b', muted: true },
  PrivacyChanged: { type: 'PrivacyChanged', v: 1, userId: 'b', lastSeen: 'nobody', at },
  UserBlocked: { type: 'UserBlocked', v: 1, userId: 'b', blockedUserId: 'a', at },
  UserUnblocked: { type: 'UserUnblocked', v: 1, userId: 'b', blockedUserId: 'a', at },
};
const samples = Object.values(SAMPLES).map((event) => [event.type, event] as const);

/** The statements each projection issues for the event alone, in either retention mode. */
async function statements(event: StreamEvent): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const key of PROJECTION_KEYS) {
    for (const retention of ['history', 'ephemeral'] as const) {
      const sql: string[] = [];
      const tx = { query: async (q: string | { text: string }) => (sql.push(typeof q === 'string' ? q : q.text), { rows: [], rowCount: 0 }) } as unknown as PoolClient;
      const projection = buildProjection(key, n, null, { retention });
      const batch = eventsFor(projection, [{ streamSeq: 2, event }]);
      if (batch.length) await projection.apply(tx, batch);
      if (sql.length) out.set(key, [...(out.get(key) ?? []), ...sql]);
    }
  }
  return out;
}

/** The live router's frames and push jobs for the event, in a direct conversation and in a group. */
function live(event: StreamEvent): { frames: string[]; push: boolean } {
  const stored = { streamSeq: 2, event };
  // The projector hands the live router conversation and receipt events only.
  if (isPreference(stored)) return { frames: [], push: false };
  const frames = new Set<string>();
  let push = false;
  for (const kind of ['direct', 'group'] as const) {
    const router = new LiveRouter({ router: {} as Router, membership: new MembershipCache(1000), publisher: { publish: async () => undefined as never }, names: n });
    const plan = router.plan([created(kind), stored as StoredEvent]);
    for (const r of plan.routes) if (r.streamSeq === 2) frames.add(r.frame.type);
    push ||= plan.messages.some((m) => m.streamSeq === 2 && m.recipients.length > 0);
  }
  return { frames: [...frames].sort(), push };
}

/** The tables the notifier reads before each push that proj-preferences writes. */
const NOTIFIER_TABLES = ['notification_mutes', 'user_blocks'] as const;

describe('EVENT_CATALOGUE against the projector', () => {
  it.each(samples)('%s: the projections that write it', async (type, event) => {
    expect([...(await statements(event)).keys()].sort()).toEqual([...EVENT_CATALOGUE[type].projections].sort());
  });

  it.each(samples)('%s: the live router\'s frames and push jobs', (type, event) => {
    const meta = EVENT_CATALOGUE[type];
    expect(live(event)).toEqual({ frames: [...meta.live].sort(), push: meta.notifier === 'push jobs' });
  });

  it.each(samples)('%s: the notifier tables it changes', async (type, event) => {
    const sql = (await statements(event)).get('preferences') ?? [];
    const notifier = EVENT_CATALOGUE[type].notifier;
    expect(NOTIFIER_TABLES.filter((t) => sql.some((s) => s.includes(t)))).toEqual(notifier && notifier !== 'push jobs' ? [notifier] : []);
  });
});
