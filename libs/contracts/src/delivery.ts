import { z } from 'zod';
import { DeviceId, UserId, type ConversationKind } from './ids';
import { ServerFrame, type MessageNew, type Receipt } from './frames';
import { encodeCursor } from './cursor';
import type { EventOf, ReceiptEvent } from './events';

/**
 * What a projector routes to one edge on chat.dlv.<edgeId>: one frame and the users whose
 * connected devices on that edge should get it. Routing once per edge (not per recipient)
 * keeps a big group's fan-out to one publish per edge.
 */
export const DeliveryEnvelope = z.object({
  users: z.array(UserId),
  /** The device that caused the frame (it already has it); skipped when pushing. */
  exceptDevice: z.object({ userId: UserId, deviceId: DeviceId }).optional(),
  /** The frame as the devices get it. */
  frame: ServerFrame,
  /**
   * On a direct conversation's `message.new`: the conversation's two members (`users` names
   * only those with devices on the receiving edge). An edge that appends a member's receipt for
   * it hands the `receipt` frame to both members' devices there itself (HandedReceipts).
   */
  direct: z.tuple([UserId, UserId]).optional(),
});
export type DeliveryEnvelope = z.infer<typeof DeliveryEnvelope>;

/**
 * `DeliveryEnvelope.direct` for a conversation's `message.new`: its two members when it is a
 * direct conversation whose two members are known, else undefined.
 */
export function directPair(kind: ConversationKind | undefined, members: Iterable<string>): [string, string] | undefined {
  if (kind !== 'direct') return undefined;
  const pair = [...members];
  return pair.length === 2 ? [pair[0]!, pair[1]!] : undefined;
}

/**
 * Header of an event in CHAT_EVENTS whose frame the appending edge handed to its own connected
 * devices right after the append's acknowledgement (a `message.new` appended by an edge hosting
 * the command tier, a direct conversation's `receipt` appended by the edge): its value is that
 * edge's id, and the projector routes the frame to every other edge.
 */
export const HANDED_BY_HEADER = 'Chat-Handed-By';

/**
 * Header of a publish on chat.dlv.<edgeId> by the projector's live routing: every event up to
 * this CHAT_EVENTS sequence has been routed, and what it routed to this edge is in this publish
 * or an earlier one. An edge that has delivered it knows no older frame is still on its way.
 */
export const ROUTED_THROUGH_HEADER = 'Chat-Routed-Through';

/** The live frame for a message; its cursor is the event's stream sequence, like the inbox row's. */
export function messageNewFrame(e: EventOf<'MessageSent'>, streamSeq: number): MessageNew {
  return {
    type: 'message.new',
    conversationId: e.conversationId,
    messageId: e.messageId,
    seq: e.seq,
    senderId: e.senderId,
    body: e.body,
    sentAt: e.sentAt,
    ...(e.replyTo !== undefined ? { replyTo: e.replyTo } : {}),
    cursor: encodeCursor(streamSeq),
    ...(e.mentions?.length ? { mentions: e.mentions } : {}),
    ...(e.forwarded ? { forwarded: true as const } : {}),
  };
}

/** The live frame for a receipt event: the member's new watermark, for the other members and the member's other devices. */
export function receiptFrame(e: ReceiptEvent): Receipt {
  return {
    type: 'receipt',
    conversationId: e.conversationId,
    userId: e.userId,
    status: e.type === 'MessagesRead' ? 'read' : 'delivered',
    upToSeq: e.upToSeq,
    at: e.at,
  };
}
