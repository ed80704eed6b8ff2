import type { ConversationEvent } from '@chat/contracts';
import type { ConversationState, MessageRecord, SentRecord } from './state';
import { DEFAULT_STATE_LIMITS, sentKey, type StateLimits } from './state';

/**
 * Folds one event into the state. For speed on long replays it reuses the previous state's
 * collections: treat the state passed in as consumed.
 *
 * The timeline seq stays dense: MessageSent and the membership changes shown as system
 * messages (MembersAdded, MemberRemoved, MemberLeft) advance `lastSeq`; edits, deletes, hides,
 * role and metadata changes carry no seq of their own (or the target message's) and do not.
 *
 * Message and client-id records older than `limits` allow are dropped as newer messages come
 * in, by the events' own times: the same events always give the same state.
 */
export function evolve(state: ConversationState, event: ConversationEvent, limits: StateLimits = DEFAULT_STATE_LIMITS): ConversationState {
  if (event.type === 'ConversationCreated') {
    return {
      status: 'active',
      conversationId: event.conversationId,
      kind: event.kind,
      ...(event.title !== undefined ? { title: event.title } : {}),
      ...(event.description ? { description: event.description } : {}),
      ...(event.avatarUrl ? { avatarUrl: event.avatarUrl } : {}),
      createdBy: event.createdBy,
      createdAt: event.at,
      members: new Map(event.members.map((m) => [m.userId, { role: m.role, joinedAfterSeq: 0 }])),
      lastSeq: 0,
      lastEventAt: event.at,
      sent: new Map(),
      messages: new Map(),
    };
  }
  if (state.status !== 'active') return state;
  switch (event.type) {
    case 'MessageSent': {
      state.lastSeq = event.seq;
      state.lastEventAt = event.sentAt;
      state.sent.set(sentKey(event.senderId, event.clientMsgId), {
        messageId: event.messageId,
        seq: event.seq,
        sentAt: event.sentAt,
      });
      const sentAtMs = Date.parse(event.sentAt);
      state.messages.set(event.messageId, { seq: event.seq, senderId: event.senderId, sentAtMs, deleted: false });
      state.lastMessage = { messageId: event.messageId, seq: event.seq, senderId: event.senderId, sentAt: event.sentAt };
      prune(state.sent, limits.maxSent, (r) => Date.parse(r.sentAt) < sentAtMs - limits.sentWindowMs);
      prune(state.messages, limits.maxMessages, (r) => r.sentAtMs < sentAtMs - limits.messageWindowMs);
      return state;
    }
    case 'MembersAdded':
      for (const m of event.members) state.members.set(m.userId, { role: m.role, joinedAfterSeq: event.seq - 1 });
      state.lastSeq = event.seq;
      state.lastEventAt = event.at;
      return state;
    case 'MemberRemoved':
    case 'MemberLeft':
      state.members.delete(event.userId);
      state.lastSeq = event.seq;
      state.lastEventAt = event.at;
      return state;
    case 'RolesChanged':
      for (const c of event.changes) {
        const member = state.members.get(c.userId);
        if (member) member.role = c.role;
      }
      state.lastEventAt = event.at;
      return state;
    case 'ConversationUpdated':
      // An empty string clears a field.
      if (event.title !== undefined) setOrClear(state, 'title', event.title);
      if (event.description !== undefined) setOrClear(state, 'description', event.description);
      if (event.avatarUrl !== undefined) setOrClear(state, 'avatarUrl', event.avatarUrl);
      state.lastEventAt = event.at;
      return state;
    case 'MessageDeleted': {
      const rec = state.messages.get(event.messageId);
      if (rec) rec.deleted = true;
      state.lastEventAt = event.at;
      return state;
    }
    case 'MessageEdited':
    case 'MessageHidden':
      // Nothing a later decision needs: edits change only the body, hides only one reader's view.
      state.lastEventAt = event.at;
      return state;
    default: {
      const never: never = event;
      return never;
    }
  }
}

function setOrClear(state: { title?: string; description?: string; avatarUrl?: string }, field: 'title' | 'description' | 'avatarUrl', value: string): void {
  if (value === '') delete state[field];
  else state[field] = value;
}

/** Drops records from the front (the oldest) while there are more than `max` or the oldest is `expired`. */
function prune<R extends SentRecord | MessageRecord>(records: Map<string, R>, max: number, expired: (r: R) => boolean): void {
  for (const [key, rec] of records) {
    if (records.size <= max && !expired(rec)) break;
    records.delete(key);
  }
}

export function evolveAll(state: ConversationState, events: readonly ConversationEvent[], limits: StateLimits = DEFAULT_STATE_LIMITS): ConversationState {
  return events.reduce((s, e) => evolve(s, e, limits), state);
}
