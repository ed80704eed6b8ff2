import { z } from 'zod';
import { ClientMsgId, ConversationId, ConversationKind, DeviceId, MessageId, PositiveSeq, Role, UserId } from './ids';
import { MessageBody, TextBody } from './body';
import { LastSeenVisibility } from './events';
import { ERROR_CODES } from './errors';
import { ConversationCreatedFrame, ConversationMutedFrame, ConversationUpdatedFrame, MessageDeletedFrame, MessageEditedFrame, MessageSentFrame } from './frames';

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
export const EditMessage = cmd('EditMessage', { messageId: MessageId, body: TextBody });
export const DeleteMessage = cmd('DeleteMessage', { messageId: MessageId, scope: z.enum(['everyone', 'me']) });
/** Mutes (or unmutes) push notifications of one conversation for the caller; `until` (ISO) ends it by itself. */
export const MuteConversation = cmd('MuteConversation', { muted: z.boolean(), until: z.string().optional() });

/** A user's own settings (chat.pref.user.<userId>): no conversation; routed by the user. */
const userCmd = <T extends string, D extends z.ZodRawShape>(type: T, data: D) => z.object({ type: z.literal(type), v: z.literal(1), meta: CommandMeta, data: z.object(data) });
export const SetPrivacy = userCmd('SetPrivacy', { lastSeen: LastSeenVisibility });
export const BlockUser = userCmd('BlockUser', { userId: UserId });
export const UnblockUser = userCmd('UnblockUser', { userId: UserId });

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
  SetPrivacy,
  BlockUser,
  UnblockUser,
]);
export type Command = z.infer<typeof Command>;
/** Commands about one conversation (everything but a user's own settings). */
export type ConversationScopedCommand = Extract<Command, { data: { conversationId: string } }>;
/**
 * What a command's partition and queue follow: its conversation, or for a user's own settings
 * the user (`user.<userId>`; conversation ids have no dot, so the two never meet).
 */
export const commandKey = (c: Command): string => ('conversationId' in c.data ? c.data.conversationId : userCommandKey(c.meta.userId));
/** The key of a user's own settings (commands and their subject chat.pref.user.<userId> alike). */
export const userCommandKey = (userId: string): string => `user.${userId}`;
export type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;

// ---------------------------------------------------------------- replies (core NATS)
// A command's result is the answer frame the edge sends for it, without what the edge adds
// (`type`, the client's `ref`, its `cursor`), tagged with `kind`. Where the frame's own `kind`
// is the conversation's, the result names it `conversationKind`.
export const ConversationCreatedResult = ConversationCreatedFrame.omit({ type: true, ref: true, kind: true }).extend({
  kind: z.literal('conversation.created'),
  conversationKind: ConversationKind,
});
export const MessageSentResult = MessageSentFrame.omit({ type: true }).extend({ kind: z.literal('message.sent') });
export const AcceptedResult = z.object({ kind: z.literal('accepted') });
/** Membership, role or metadata changed (or nothing to change): the conversation as it now is. */
export const ConversationChangedResult = ConversationUpdatedFrame.pick({ conversationId: true, title: true, description: true, avatarUrl: true, members: true, changed: true }).extend({
  kind: z.literal('conversation.changed'),
  conversationKind: ConversationKind,
  roles: z.record(z.string(), Role),
});
export const MessageEditedResult = MessageEditedFrame.omit({ type: true, ref: true, cursor: true }).extend({ kind: z.literal('message.edited') });
export const MessageDeletedResult = MessageDeletedFrame.omit({ type: true, ref: true, cursor: true }).extend({ kind: z.literal('message.deleted') });
/** The caller's mute setting for a conversation, as it now is. */
export const ConversationMutedResult = ConversationMutedFrame.omit({ type: true, ref: true }).extend({ kind: z.literal('conversation.muted') });
/** The caller's privacy settings as they now are. */
export const SettingsResult = z.object({ kind: z.literal('settings'), lastSeen: LastSeenVisibility });
/** Whether the caller now blocks `userId`. */
export const BlockResult = z.object({ kind: z.literal('block'), userId: UserId, blocked: z.boolean() });
export const CommandResult = z.discriminatedUnion('kind', [
  ConversationCreatedResult,
  MessageSentResult,
  AcceptedResult,
  ConversationChangedResult,
  MessageEditedResult,
  MessageDeletedResult,
  ConversationMutedResult,
  SettingsResult,
  BlockResult,
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
