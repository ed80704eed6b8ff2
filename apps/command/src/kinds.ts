import { ConversationEvent, type ChatEvent } from '@chat/contracts';
import { evolve, evolveReceipt, initialReceiptState, initialState, type ConversationState, type ReceiptState } from '@chat/domain';
import type { AggregateKind } from './aggregates';

const CONVERSATION_EVENT_TYPES: ReadonlySet<string> = new Set(ConversationEvent.options.map((o) => o.shape.type.value));

export const isConversationEvent = (event: ChatEvent): event is ConversationEvent => CONVERSATION_EVENT_TYPES.has(event.type);

/** chat.evt.conv.<conversationId> */
export const conversation: AggregateKind<ConversationState> = {
  initial: initialState,
  evolve(state, event: ChatEvent) {
    if (!isConversationEvent(event)) throw new Error(`${event.type} on a conversation subject`);
    return evolve(state, event);
  },
};

/** chat.evt.rcpt.<conversationId>.<userId> */
export const receipt: AggregateKind<ReceiptState> = {
  initial: initialReceiptState,
  evolve(state, event: ChatEvent) {
    if (event.type !== 'MessagesDelivered' && event.type !== 'MessagesRead') throw new Error(`${event.type} on a receipt subject`);
    return evolveReceipt(state, event);
  },
};
