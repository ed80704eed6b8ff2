import type { CommandOf, ReceiptEvent } from '@chat/contracts';
import { requireMember } from '../conversation/decide';
import type { ConversationState } from '../conversation/state';

/**
 * One member's watermarks in one conversation (subject chat.evt.rcpt.<conv>.<user>).
 * Watermarks only move forward; read implies delivered.
 */
export interface ReceiptState {
  deliveredSeq: number;
  readSeq: number;
}
export type ReceiptCommand = CommandOf<'MarkDelivered'> | CommandOf<'MarkRead'>;

export const initialReceiptState = (): ReceiptState => ({ deliveredSeq: 0, readSeq: 0 });

export function evolveReceipt(state: ReceiptState, event: ReceiptEvent): ReceiptState {
  switch (event.type) {
    case 'MessagesDelivered':
      return { ...state, deliveredSeq: Math.max(state.deliveredSeq, event.upToSeq) };
    case 'MessagesRead':
      return {
        deliveredSeq: Math.max(state.deliveredSeq, event.upToSeq),
        readSeq: Math.max(state.readSeq, event.upToSeq),
      };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/**
 * Pure: needs the conversation for membership and its last seq. A watermark past the last
 * message is clamped to it; one that does not move forward produces nothing.
 */
export function decideReceipt(command: ReceiptCommand, state: ReceiptState, conversation: ConversationState): ReceiptEvent[] {
  const conv = requireMember(conversation, command.meta.userId);
  const upToSeq = Math.min(command.data.upToSeq, conv.lastSeq);
  const base = {
    v: 1 as const,
    conversationId: conv.conversationId,
    userId: command.meta.userId,
    deviceId: command.meta.deviceId,
    upToSeq,
    at: command.meta.at,
  };
  switch (command.type) {
    case 'MarkDelivered':
      return upToSeq > state.deliveredSeq ? [{ type: 'MessagesDelivered', ...base }] : [];
    case 'MarkRead':
      return upToSeq > state.readSeq ? [{ type: 'MessagesRead', ...base }] : [];
    default: {
      const never: never = command;
      return never;
    }
  }
}
