import { z } from 'zod';
import { ClientMsgId, ConversationId, DeviceId, MessageId, PositiveSeq, Seq, UserId } from './ids';
import { MessageBody } from './body';
import { LIMITS } from './limits';
import { ERROR_CODES } from './errors';

const Ref = z.string().min(1).max(64);

// ---------------------------------------------------------------- client → server
export const ConversationCreateFrame = z.object({
  type: z.literal('conversation.create'),
  ref: Ref,
  kind: z.enum(['direct', 'group']),
  members: z.array(UserId).min(1).max(4096),
  title: z.string().min(1).max(200).optional(),
});
export const MessageSendFrame = z.object({
  type: z.literal('message.send'),
  clientMsgId: ClientMsgId,
  conversationId: ConversationId,
  body: MessageBody,
  replyTo: MessageId.optional(),
});
export const MessageDeliveredFrame = z.object({
  type: z.literal('message.delivered'),
  conversationId: ConversationId,
  upToSeq: PositiveSeq,
});
export const MessageReadFrame = z.object({
  type: z.literal('message.read'),
  conversationId: ConversationId,
  upToSeq: PositiveSeq,
});
export const SyncFrame = z.object({
  type: z.literal('sync'),
  ref: Ref,
  cursor: z.string().max(128).nullable(),
  limit: z.number().int().min(1).max(LIMITS.maxSyncLimit).optional(),
});
export const PingFrame = z.object({ type: z.literal('ping'), ref: Ref.optional() });

export const ClientFrame = z.discriminatedUnion('type', [
  ConversationCreateFrame,
  MessageSendFrame,
  MessageDeliveredFrame,
  MessageReadFrame,
  SyncFrame,
  PingFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export const CLIENT_FRAME_TYPES = ClientFrame.options.map((o) => o.shape.type.value);

// ---------------------------------------------------------------- server → client
export const HelloFrame = z.object({
  type: z.literal('hello'),
  userId: UserId,
  deviceId: DeviceId,
  edgeId: z.string(),
  serverTime: z.string(),
});
export const ConversationCreatedFrame = z.object({
  type: z.literal('conversation.created'),
  ref: Ref,
  conversationId: ConversationId,
  kind: z.enum(['direct', 'group']),
  members: z.array(UserId),
});
export const MessageSentFrame = z.object({
  type: z.literal('message.sent'),
  clientMsgId: ClientMsgId,
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  sentAt: z.string(),
});
export const MessageNewFrame = z.object({
  type: z.literal('message.new'),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  senderId: UserId,
  body: MessageBody,
  sentAt: z.string(),
  replyTo: MessageId.optional(),
  cursor: z.string(),
});
export const ReceiptFrame = z.object({
  type: z.literal('receipt'),
  conversationId: ConversationId,
  userId: UserId,
  status: z.enum(['delivered', 'read']),
  upToSeq: Seq,
  at: z.string(),
});
export const ConversationUpdatedFrame = z.object({
  type: z.literal('conversation.updated'),
  conversationId: ConversationId,
  kind: z.enum(['direct', 'group']),
  title: z.string().optional(),
  members: z.array(UserId),
  changed: z.array(z.string()),
});
export const SyncBatchFrame = z.object({
  type: z.literal('sync.batch'),
  ref: Ref,
  frames: z.array(MessageNewFrame),
  cursor: z.string().nullable(),
  hasMore: z.boolean(),
});
export const SyncResetFrame = z.object({ type: z.literal('sync.reset'), ref: Ref, reason: z.string() });
export const PongFrame = z.object({ type: z.literal('pong'), ref: Ref.optional() });
export const ErrorFrame = z.object({
  type: z.literal('error'),
  code: z.enum(ERROR_CODES),
  message: z.string(),
  ref: z.string().optional(),
  clientMsgId: z.string().optional(),
  retryAfterMs: z.number().int().nonnegative().optional(),
});

export const ServerFrame = z.discriminatedUnion('type', [
  HelloFrame,
  ConversationCreatedFrame,
  MessageSentFrame,
  MessageNewFrame,
  ReceiptFrame,
  ConversationUpdatedFrame,
  SyncBatchFrame,
  SyncResetFrame,
  PongFrame,
  ErrorFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
export type ClientFrameOf<T extends ClientFrame['type']> = Extract<ClientFrame, { type: T }>;
export type MessageNew = z.infer<typeof MessageNewFrame>;
export type Receipt = z.infer<typeof ReceiptFrame>;
