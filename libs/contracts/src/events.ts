import { z } from 'zod';
import { ClientMsgId, ConversationId, DeviceId, MessageId, PositiveSeq, UserId } from './ids';
import { MessageBody } from './body';

export const Role = z.enum(['owner', 'admin', 'member']);
export type Role = z.infer<typeof Role>;

// Events on chat.evt.conv.<conversationId> (the conversation aggregate)
export const ConversationCreated = z.object({
  type: z.literal('ConversationCreated'),
  v: z.literal(1),
  conversationId: ConversationId,
  kind: z.enum(['direct', 'group']),
  title: z.string().optional(),
  createdBy: UserId,
  members: z.array(z.object({ userId: UserId, role: Role })),
  at: z.string(),
});
export const MessageSent = z.object({
  type: z.literal('MessageSent'),
  v: z.literal(1),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  senderId: UserId,
  senderDeviceId: DeviceId,
  clientMsgId: ClientMsgId,
  body: MessageBody,
  replyTo: MessageId.optional(),
  sentAt: z.string(),
});

// Events on chat.evt.rcpt.<conversationId>.<userId> (one member's watermarks)
export const MessagesDelivered = z.object({
  type: z.literal('MessagesDelivered'),
  v: z.literal(1),
  conversationId: ConversationId,
  userId: UserId,
  deviceId: DeviceId,
  upToSeq: PositiveSeq,
  at: z.string(),
});
export const MessagesRead = z.object({
  type: z.literal('MessagesRead'),
  v: z.literal(1),
  conversationId: ConversationId,
  userId: UserId,
  deviceId: DeviceId,
  upToSeq: PositiveSeq,
  at: z.string(),
});

export const ConversationEvent = z.discriminatedUnion('type', [ConversationCreated, MessageSent]);
export type ConversationEvent = z.infer<typeof ConversationEvent>;
export const ReceiptEvent = z.discriminatedUnion('type', [MessagesDelivered, MessagesRead]);
export type ReceiptEvent = z.infer<typeof ReceiptEvent>;
export const ChatEvent = z.discriminatedUnion('type', [ConversationCreated, MessageSent, MessagesDelivered, MessagesRead]);
export type ChatEvent = z.infer<typeof ChatEvent>;
export type EventOf<T extends ChatEvent['type']> = Extract<ChatEvent, { type: T }>;

/**
 * Upcasting happens here, in one place, when an event shape changes: parse the stored JSON,
 * lift older `v`s to the current shape, validate.
 */
export function parseEvent(json: unknown): ChatEvent {
  return ChatEvent.parse(json);
}
