import { LIMITS, type ConversationEvent } from '@chat/contracts';
import type { ConversationState } from './state';
import { sentKey } from './state';

/**
 * Folds one event into the state. For speed on long replays it reuses the previous state's
 * collections: treat the state passed in as consumed.
 */
export function evolve(state: ConversationState, event: ConversationEvent): ConversationState {
  switch (event.type) {
    case 'ConversationCreated':
      return {
        status: 'active',
        conversationId: event.conversationId,
        kind: event.kind,
        title: event.title,
        createdBy: event.createdBy,
        members: new Map(event.members.map((m) => [m.userId, { role: m.role }])),
        lastSeq: 0,
        lastEventAt: event.at,
        sent: new Map(),
        seqByMessageId: new Map(),
      };
    case 'MessageSent': {
      if (state.status !== 'active') return state;
      state.lastSeq = event.seq;
      state.lastEventAt = event.sentAt;
      state.sent.set(sentKey(event.senderId, event.clientMsgId), {
        messageId: event.messageId,
        seq: event.seq,
        sentAt: event.sentAt,
      });
      state.seqByMessageId.set(event.messageId, event.seq);
      pruneSent(state.sent, Date.parse(event.sentAt) - LIMITS.clientMsgIdWindowMs);
      return state;
    }
    default: {
      const never: never = event;
      return never;
    }
  }
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
