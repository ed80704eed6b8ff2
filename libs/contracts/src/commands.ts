import { z } from 'zod';
import { ClientMsgId, ConversationId, DeviceId, MessageId, PositiveSeq, UserId } from './ids';
import { MessageBody } from './body';
import { ERROR_CODES } from './errors';

/**
 * Every command carries who sent it, from where, and the time and id the edge assigned.
 * The decider stays pure: a redelivered command decides exactly the same way.
 */
export const CommandMeta = z.object({
  commandId: z.string(),
  userId: UserId,
  deviceId: DeviceId,
  edgeId: z.string(),
  requestId: z.string(),
  /** ISO time the edge received the frame; becomes the event time. */
  at: z.string(),
});
export type CommandMeta = z.infer<typeof CommandMeta>;

export const CreateConversation = z.object({
  type: z.literal('CreateConversation'),
  v: z.literal(1),
  meta: CommandMeta,
  data: z.object({
    conversationId: ConversationId,
    kind: z.enum(['direct', 'group']),
    /** Everyone in the conversation, the creator included. */
    members: z.array(UserId).min(1),
    title: z.string().optional(),
  }),
});
export const SendMessage = z.object({
  type: z.literal('SendMessage'),
  v: z.literal(1),
  meta: CommandMeta,
  data: z.object({
    conversationId: ConversationId,
    messageId: MessageId,
    clientMsgId: ClientMsgId,
    body: MessageBody,
    replyTo: MessageId.optional(),
  }),
});
export const MarkDelivered = z.object({
  type: z.literal('MarkDelivered'),
  v: z.literal(1),
  meta: CommandMeta,
  data: z.object({ conversationId: ConversationId, upToSeq: PositiveSeq }),
});
export const MarkRead = z.object({
  type: z.literal('MarkRead'),
  v: z.literal(1),
  meta: CommandMeta,
  data: z.object({ conversationId: ConversationId, upToSeq: PositiveSeq }),
});

export const Command = z.discriminatedUnion('type', [CreateConversation, SendMessage, MarkDelivered, MarkRead]);
export type Command = z.infer<typeof Command>;
export type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;

// ---------------------------------------------------------------- replies (core NATS)
export const ConversationCreatedResult = z.object({
  kind: z.literal('conversation.created'),
  conversationId: ConversationId,
  conversationKind: z.enum(['direct', 'group']),
  members: z.array(UserId),
});
export const MessageSentResult = z.object({
  kind: z.literal('message.sent'),
  conversationId: ConversationId,
  clientMsgId: ClientMsgId,
  messageId: MessageId,
  seq: PositiveSeq,
  sentAt: z.string(),
});
export const AcceptedResult = z.object({ kind: z.literal('accepted') });
export const CommandResult = z.discriminatedUnion('kind', [ConversationCreatedResult, MessageSentResult, AcceptedResult]);
export type CommandResult = z.infer<typeof CommandResult>;

export const CommandReply = z.discriminatedUnion('ok', [
  z.object({ requestId: z.string(), ok: z.literal(true), result: CommandResult }),
  z.object({
    requestId: z.string(),
    ok: z.literal(false),
    error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }),
  }),
]);
export type CommandReply = z.infer<typeof CommandReply>;
export { DeviceId };
