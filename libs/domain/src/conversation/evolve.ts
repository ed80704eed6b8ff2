import type { ConversationEvent } from '@chat/contracts';
import { OrderedMap } from 'immutable';
import { Recent } from './recent';
import type { ActiveConversation, ConversationState } from './state';
import { DEFAULT_STATE_LIMITS, sentKey, type StateLimits } from './state';

/**
 * Pure: the state after one event. The state passed in is left as it was; the new one shares
 * its unchanged parts (see `Recent`), so a message costs O(log n) whatever the conversation's size.
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
      members: OrderedMap(event.members.map((m) => [m.userId, { role: m.role, joinedAfterSeq: 0 }])),
      lastSeq: 0,
      lastEventAt: event.at,
      sent: Recent.empty(),
      messages: Recent.empty(),
    };
  }
  if (state.status !== 'active') return state;
  switch (event.type) {
    case 'MessageSent': {
      const sentAtMs = Date.parse(event.sentAt);
      return {
        ...state,
        lastSeq: event.seq,
        lastEventAt: event.sentAt,
        lastMessage: { messageId: event.messageId, seq: event.seq, senderId: event.senderId, sentAt: event.sentAt },
        sent: state.sent
          .set(sentKey(event.senderId, event.clientMsgId), { messageId: event.messageId, seq: event.seq, sentAt: event.sentAt })
          .trim(limits.maxSent, (r) => Date.parse(r.sentAt) < sentAtMs - limits.sentWindowMs),
        messages: state.messages
          .set(event.messageId, { seq: event.seq, senderId: event.senderId, sentAtMs, deleted: false })
          .trim(limits.maxMessages, (r) => r.sentAtMs < sentAtMs - limits.messageWindowMs),
      };
    }
    case 'MembersAdded': {
      const joined = { joinedAfterSeq: event.seq - 1 };
      const members = state.members.withMutations((m) => {
        for (const { userId, role } of event.members) m.set(userId, { role, ...joined });
      });
      return { ...state, members, lastSeq: event.seq, lastEventAt: event.at };
    }
    case 'MemberRemoved':
    case 'MemberLeft':
      return { ...state, members: state.members.delete(event.userId), lastSeq: event.seq, lastEventAt: event.at };
    case 'RolesChanged': {
      const members = state.members.withMutations((m) => {
        for (const c of event.changes) {
          const member = m.get(c.userId);
          if (member) m.set(c.userId, { ...member, role: c.role });
        }
      });
      return { ...state, members, lastEventAt: event.at };
    }
    case 'ConversationUpdated': {
      // An empty string clears a field.
      let next: ActiveConversation = { ...state, lastEventAt: event.at };
      if (event.title !== undefined) next = withField(next, 'title', event.title);
      if (event.description !== undefined) next = withField(next, 'description', event.description);
      if (event.avatarUrl !== undefined) next = withField(next, 'avatarUrl', event.avatarUrl);
      return next;
    }
    case 'MessageDeleted': {
      const rec = state.messages.get(event.messageId);
      return { ...state, ...(rec ? { messages: state.messages.set(event.messageId, { ...rec, deleted: true }) } : {}), lastEventAt: event.at };
    }
    case 'MessageEdited':
    case 'MessageHidden':
      // Nothing a later decision needs: edits change only the body, hides only one reader's view.
      return { ...state, lastEventAt: event.at };
    default: {
      const never: never = event;
      return never;
    }
  }
}

function withField(state: ActiveConversation, field: 'title' | 'description' | 'avatarUrl', value: string): ActiveConversation {
  if (value !== '') return { ...state, [field]: value };
  const { [field]: _cleared, ...rest } = state;
  return rest;
}

export function evolveAll(state: ConversationState, events: readonly ConversationEvent[], limits: StateLimits = DEFAULT_STATE_LIMITS): ConversationState {
  return events.reduce((s, e) => evolve(s, e, limits), state);
}
