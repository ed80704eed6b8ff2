import type { CommandOf, ReceiptEvent } from '@chat/contracts';
import { requireMember } from '../conversation/guards';
import type { ConversationState } from '../conversation/state';

/**
 * One member's watermarks in one conversation (subject chat.evt.rcpt.<conv>.<user>).
 * Watermarks only move forward; read implies delivered.
 */
export interface ReceiptState {
  deliveredSeq: number;
  readSeq: number;
  /** Each device's own delivered watermark ("2 of 2 devices", ephemeral deletion). */
  devices: Record<string, number>;
}
export type ReceiptCommand = CommandOf<'MarkDelivered'> | CommandOf<'MarkRead'>;

export const initialReceiptState = (): ReceiptState => ({ deliveredSeq: 0, readSeq: 0, devices: {} });

const withDevice = (devices: Record<string, number>, deviceId: string, seq: number): Record<string, number> =>
  (devices[deviceId] ?? 0) >= seq ? devices : { ...devices, [deviceId]: seq };

export function evolveReceipt(state: ReceiptState, event: ReceiptEvent): ReceiptState {
  switch (event.type) {
    case 'MessagesDelivered':
      return {
        ...state,
        deliveredSeq: Math.max(state.deliveredSeq, event.upToSeq),
        devices: withDevice(state.devices, event.deviceId, event.upToSeq),
      };
    case 'MessagesRead':
      return {
        deliveredSeq: Math.max(state.deliveredSeq, event.upToSeq),
        readSeq: Math.max(state.readSeq, event.upToSeq),
        devices: withDevice(state.devices, event.deviceId, event.upToSeq),
      };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/**
 * Pure: needs the conversation for membership and its last seq. A watermark past the last
 * message is clamped to it; one that moves neither the member's watermark nor the device's
 * own produces nothing. (A second device acknowledging what the first already did is an
 * event: it moves that device, which "2 of 2 devices" and ephemeral deletion count.)
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
  const movesDevice = upToSeq > (state.devices[command.meta.deviceId] ?? 0);
  switch (command.type) {
    case 'MarkDelivered':
      return upToSeq > state.deliveredSeq || movesDevice ? [{ type: 'MessagesDelivered', ...base }] : [];
    case 'MarkRead':
      if (upToSeq > state.readSeq) return [{ type: 'MessagesRead', ...base }];
      return movesDevice ? [{ type: 'MessagesDelivered', ...base }] : [];
    default: {
      const never: never = command;
      return never;
    }
  }
}
