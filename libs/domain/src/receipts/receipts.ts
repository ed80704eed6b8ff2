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
  const base = receiptBase(command, Math.min(command.data.upToSeq, conv.lastSeq));
  const upToSeq = base.upToSeq;
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

const receiptBase = (command: ReceiptCommand, upToSeq: number) => ({
  v: 1 as const,
  conversationId: command.data.conversationId,
  userId: command.meta.userId,
  deviceId: command.meta.deviceId,
  upToSeq,
  at: command.meta.at,
});

/** What one device's receipts have appended in one conversation through this writer (the edge's own record). */
export interface DeviceMarks {
  delivered: number;
  read: number;
}

/** A device none of whose receipts were appended yet. */
export const NO_MARKS: DeviceMarks = Object.freeze({ delivered: 0, read: 0 });

/**
 * Pure: a receipt decided where the message was handed over, without the conversation's or the
 * member's state (the edge; docs/architecture.md, "Receipts"). `handedUpTo` is the highest seq
 * of the conversation routed live to the user: routing proves the message exists (so every seq
 * below it does) and that the user was a member when it was sent, which is what `decideReceipt`
 * checks against the conversation's state. Past it, or with nothing handed over, the answer is
 * `undefined`: the command process decides. A position this device's receipts already reached
 * through this writer (`marks`) appends nothing, as `decideReceipt` would append nothing.
 *
 * It may append where `decideReceipt` would not: the member's or device's watermark may
 * already be there through another device, edge or the command process, and a read that moves
 * only this device is appended as `MessagesRead` where `decideReceipt` appends
 * `MessagesDelivered`. Watermarks only move forward (`evolveReceipt`, and the projector's
 * GREATEST), so the state is the same either way.
 */
export function decideHandedReceipt(command: ReceiptCommand, handedUpTo: number, marks: DeviceMarks): ReceiptEvent[] | undefined {
  const upToSeq = command.data.upToSeq;
  if (upToSeq > handedUpTo) return undefined;
  const base = receiptBase(command, upToSeq);
  switch (command.type) {
    case 'MarkDelivered':
      return upToSeq > marks.delivered ? [{ type: 'MessagesDelivered', ...base }] : [];
    case 'MarkRead':
      return upToSeq > marks.read ? [{ type: 'MessagesRead', ...base }] : [];
    default: {
      const never: never = command;
      return never;
    }
  }
}

/**
 * Pure: one device's receipts for one conversation, taken together (those that arrived in one
 * turn; clients flush a delivered and a read at once): the highest read and the highest
 * delivered are decided, the delivered against the marks the read leaves, so a delivered the
 * read covers appends nothing. Each event comes with the command that carries it (its id
 * names the append); every other command appends nothing. All must be at or below
 * `handedUpTo`.
 */
export function decideHandedReceipts<C extends ReceiptCommand>(commands: readonly C[], handedUpTo: number, marks: DeviceMarks): Array<{ command: C; event: ReceiptEvent }> {
  const highest = (type: ReceiptCommand['type']) =>
    commands.reduce<C | undefined>((best, c) => (c.type === type && (!best || c.data.upToSeq > best.data.upToSeq) ? c : best), undefined);
  const out: Array<{ command: C; event: ReceiptEvent }> = [];
  let after = marks;
  for (const command of [highest('MarkRead'), highest('MarkDelivered')]) {
    if (!command) continue;
    const events = decideHandedReceipt(command, handedUpTo, after);
    if (events === undefined) throw new Error(`receipt up to ${command.data.upToSeq} past the handed ${handedUpTo}`);
    for (const event of events) {
      out.push({ command, event });
      after = markAppended(after, event);
    }
  }
  return out;
}

/** Pure: a device's marks after one of its receipts was appended. */
export function markAppended(marks: DeviceMarks, event: ReceiptEvent): DeviceMarks {
  return {
    delivered: Math.max(marks.delivered, event.upToSeq),
    read: event.type === 'MessagesRead' ? Math.max(marks.read, event.upToSeq) : marks.read,
  };
}
