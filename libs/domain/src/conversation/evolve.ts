import { LIMITS, type ConversationEvent } from '@chat/contracts';
import type { ConversationState } from './state';
import { sentKey } from './state';

/**
 * Folds one event into the state. For speed on long replays it reuses the previous state's
 * collections: treat the state passed in as consumed.
 *
 * The timeline seq stays dense: MessageSent and the membership changes shown as system
 * messages (MembersAdded, MemberRemoved, MemberLeft) advance `lastSeq`; edits, deletes, hides,
 * role and metadata changes carry no seq of their own (or the target message's) and do not.
 */
export function evolve(state: ConversationState, event: ConversationEvent): ConversationState {
  if (event.type === 'ConversationCreated') {
    return {
      status: 'active',
      conversationId: event.conversationId,
      kind: event.kind,
      ...(event.title !== undefined ? { title: event.title } : {}),
      ...(event.description ? { description: event.description } : {}),
      ...(event.avatarUrl ? { avatarUrl: event.avatarUrl } : {}),
      createdBy: event.createdBy,
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
      state.messages.set(event.messageId, { seq: event.seq, senderId: event.senderId, sentAtMs: Date.parse(event.sentAt), deleted: false });
      pruneSent(state.sent, Date.parse(event.sentAt) - LIMITS.clientMsgIdWindowMs);
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

function pruneSent(sent: Map<string, { sentAt: string }>, olderThanMs: number): void {
  for (const [key, rec] of sent) {
    if (Date.parse(rec.sentAt) >= olderThanMs) break;
    sent.delete(key);
  }
}

export function evolveAll(state: ConversationState, events: readonly ConversationEvent[]): ConversationState {
  return events.reduce(evolve, state);
}
