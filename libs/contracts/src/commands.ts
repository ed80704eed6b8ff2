import { z } from 'zod';
import { ClientMsgId, ConversationId, ConversationKind, DeviceId, MessageId, PositiveSeq, Role, UserId } from './ids';
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
    kind: ConversationKind,
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
    mentions: z.array(UserId).optional(),
    /** Set by the edge for `message.forward`, after it checked the user can see the source. */
    forwarded: z.object({ conversationId: ConversationId, messageId: MessageId }).optional(),
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

const cmd = <T extends string, D extends z.ZodRawShape>(type: T, data: D) =>
  z.object({ type: z.literal(type), v: z.literal(1), meta: CommandMeta, data: z.object({ conversationId: ConversationId, ...data }) });

export const AddMembers = cmd('AddMembers', { userIds: z.array(UserId).min(1) });
export const RemoveMember = cmd('RemoveMember', { userId: UserId });
export const LeaveConversation = cmd('LeaveConversation', {});
export const ChangeRole = cmd('ChangeRole', { userId: UserId, role: Role });
export const UpdateConversation = cmd('UpdateConversation', {
  title: z.string().optional(),
  description: z.string().optional(),
  avatarUrl: z.string().optional(),
});
export const EditMessage = cmd('EditMessage', { messageId: MessageId, body: MessageBody });
export const DeleteMessage = cmd('DeleteMessage', { messageId: MessageId, scope: z.enum(['everyone', 'me']) });
/** Mutes (or unmutes) push notifications of one conversation for the caller; `until` (ISO) ends it by itself. */
export const MuteConversation = cmd('MuteConversation', { muted: z.boolean(), until: z.string().optional() });

export const Command = z.discriminatedUnion('type', [
  CreateConversation,
  SendMessage,
  MarkDelivered,
  MarkRead,
  AddMembers,
  RemoveMember,
  LeaveConversation,
  ChangeRole,
  UpdateConversation,
  EditMessage,
  DeleteMessage,
  MuteConversation,
]);
export type Command = z.infer<typeof Command>;
export type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;

// ---------------------------------------------------------------- replies (core NATS)
export const ConversationCreatedResult = z.object({
  kind: z.literal('conversation.created'),
  conversationId: ConversationId,
  conversationKind: ConversationKind,
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
/** Membership, role or metadata changed (or nothing to change): the conversation as it now is. */
export const ConversationChangedResult = z.object({
  kind: z.literal('conversation.changed'),
  conversationId: ConversationId,
  conversationKind: ConversationKind,
  title: z.string().optional(),
  description: z.string().optional(),
  avatarUrl: z.string().optional(),
  members: z.array(UserId),
  roles: z.record(z.string(), Role),
  changed: z.array(z.string()),
});
export const MessageEditedResult = z.object({
  kind: z.literal('message.edited'),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  body: MessageBody,
  editedAt: z.string(),
});
export const MessageDeletedResult = z.object({
  kind: z.literal('message.deleted'),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  scope: z.enum(['everyone', 'me']),
  deletedAt: z.string(),
});
/** The caller's mute setting for a conversation, as it now is. */
export const ConversationMutedResult = z.object({
  kind: z.literal('conversation.muted'),
  conversationId: ConversationId,
  muted: z.boolean(),
  until: z.string().optional(),
});
export const CommandResult = z.discriminatedUnion('kind', [
  ConversationCreatedResult,
  MessageSentResult,
  AcceptedResult,
  ConversationChangedResult,
  MessageEditedResult,
  MessageDeletedResult,
  ConversationMutedResult,
]);
export type CommandResult = z.infer<typeof CommandResult>;

export const CommandReply = z.discriminatedUnion('ok', [
  z.object({ requestId: z.string(), ok: z.literal(true), result: CommandResult }),
  z.object({
    requestId: z.string(),
    ok: z.literal(false),
    error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }),
    /** The conversation's partition is changing hands: resend the same command (same ids) shortly. */
    moved: z.boolean().optional(),
  }),
]);
export type CommandReply = z.infer<typeof CommandReply>;
export { DeviceId };
