import { z } from 'zod';
import { ClientMsgId, ConversationId, ConversationKind, DeviceId, MessageId, PositiveSeq, Role, Seq, UserId } from './ids';
import { MessageBody, SendBody, SystemInfo, TextBody } from './body';
import { LIMITS } from './limits';
import { ERROR_CODES } from './errors';

const Ref = z.string().min(1).max(64);

// ---------------------------------------------------------------- client → server
export const ConversationCreateFrame = z.object({
  type: z.literal('conversation.create'),
  ref: Ref,
  kind: ConversationKind,
  members: z.array(UserId).min(1).max(4096),
  title: z.string().min(1).max(200).optional(),
}).describe('Creates a direct conversation or a group; answered by `conversation.created`.');
export const MessageSendFrame = z.object({
  type: z.literal('message.send'),
  clientMsgId: ClientMsgId,
  conversationId: ConversationId,
  /** Text, or an uploaded media object (by id) with an optional caption. */
  body: SendBody,
  replyTo: MessageId.optional(),
  /** Members mentioned (@user); each must be a member. */
  mentions: z.array(UserId).min(1).max(LIMITS.maxMentions).optional(),
}).describe('Sends a message; answered by `message.sent` once the event is durable.');
export const MessageForwardFrame = z.object({
  type: z.literal('message.forward'),
  clientMsgId: ClientMsgId,
  conversationId: ConversationId,
  from: z.object({ conversationId: ConversationId, messageId: MessageId }),
}).describe('Copies a message the user can see into another conversation of theirs; answered by `message.sent`.');
export const MessageEditFrame = z.object({
  type: z.literal('message.edit'),
  ref: Ref,
  conversationId: ConversationId,
  messageId: MessageId,
  /** The new text (of a media message: its caption; the media stays). */
  body: TextBody,
}).describe("Edits the text of one's own message within the edit window; answered by `message.edited`.");
export const MessageDeleteFrame = z.object({
  type: z.literal('message.delete'),
  ref: Ref,
  conversationId: ConversationId,
  messageId: MessageId,
  /** `everyone`: the body leaves every read model, a tombstone stays; `me`: hidden for this user only. */
  scope: z.enum(['everyone', 'me']),
}).describe('Deletes a message for everyone, or hides it for the caller; answered by `message.deleted`.');
export const MembersAddFrame = z.object({
  type: z.literal('conversation.members.add'),
  ref: Ref,
  conversationId: ConversationId,
  members: z.array(UserId).min(1).max(4096),
}).describe('Adds members to a group (owner and admins); answered by `conversation.updated`.');
export const MemberRemoveFrame = z.object({
  type: z.literal('conversation.members.remove'),
  ref: Ref,
  conversationId: ConversationId,
  userId: UserId,
}).describe('Removes a member from a group; answered by `conversation.updated`.');
export const LeaveFrame = z.object({ type: z.literal('conversation.leave'), ref: Ref, conversationId: ConversationId }).describe('Leaves a group; answered by `conversation.updated` with `member: false`.');
export const RoleSetFrame = z.object({
  type: z.literal('conversation.role.set'),
  ref: Ref,
  conversationId: ConversationId,
  userId: UserId,
  /** Making someone `owner` hands ownership over: the previous owner becomes `admin`. */
  role: Role,
}).describe("Sets a member's role (owner only); answered by `conversation.updated`.");
export const ConversationMetadata = z.object({
  title: z.string().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  avatarUrl: z.url({ protocol: /^https?$/ }).max(2000).optional(),
});
export const ConversationUpdateFrame = z
  .object({ type: z.literal('conversation.update'), ref: Ref, conversationId: ConversationId })
  .extend(ConversationMetadata.shape)
  .refine((f) => f.title !== undefined || f.description !== undefined || f.avatarUrl !== undefined, 'set title, description or avatarUrl')
  .describe("Changes a group's title, description or avatar (at least one); answered by `conversation.updated`.");
export const ConversationMuteFrame = z.object({
  type: z.literal('conversation.mute'),
  ref: Ref,
  conversationId: ConversationId,
  muted: z.boolean(),
  /** The mute ends by itself at this time (ISO 8601 with offset, in the future). Only with `muted: true`. */
  until: z.iso.datetime({ offset: true }).optional(),
}).describe('Mutes push notifications of a conversation for the caller (all devices); answered by `conversation.muted`.');
export const MessageDeliveredFrame = z.object({
  type: z.literal('message.delivered'),
  conversationId: ConversationId,
  upToSeq: PositiveSeq,
}).describe("This device received the conversation's messages up to `upToSeq`; no answer (an `error` if refused).");
export const MessageReadFrame = z.object({
  type: z.literal('message.read'),
  conversationId: ConversationId,
  upToSeq: PositiveSeq,
}).describe("The user read the conversation's messages up to `upToSeq` (read implies delivered); no answer (an `error` if refused).");
export const SyncFrame = z.object({
  type: z.literal('sync'),
  ref: Ref,
  cursor: z.string().max(128).nullable(),
  limit: z.number().int().min(1).max(LIMITS.maxSyncLimit).optional(),
}).describe('Asks for every frame after `cursor` (null: from the start); answered by `sync.batch` or `sync.reset`.');
export const PingFrame = z.object({ type: z.literal('ping'), ref: Ref.optional() }).describe('Answered by `pong`.');
export const PresenceSubscribeFrame = z.object({
  type: z.literal('presence.subscribe'),
  ref: Ref,
  userIds: z.array(UserId).max(LIMITS.maxPresenceSubscriptions),
}).describe("Watch users' presence: answered with `presence.snapshot`, then a `presence` frame whenever one of them changes. A later subscribe replaces the set; an empty list stops watching.");
export const TypingFrame = z.object({
  type: z.literal('typing'),
  conversationId: ConversationId,
  state: z.enum(['start', 'stop']),
}).describe('The sender is typing in a conversation (or stopped). Best effort: not stored, not retried, never synced.');

export const ClientFrame = z.discriminatedUnion('type', [
  ConversationCreateFrame,
  MessageSendFrame,
  MessageDeliveredFrame,
  MessageReadFrame,
  SyncFrame,
  PingFrame,
  MessageForwardFrame,
  MessageEditFrame,
  MessageDeleteFrame,
  MembersAddFrame,
  MemberRemoveFrame,
  LeaveFrame,
  RoleSetFrame,
  ConversationUpdateFrame,
  ConversationMuteFrame,
  PresenceSubscribeFrame,
  TypingFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export const CLIENT_FRAME_TYPES: string[] = [
  'conversation.create',
  'message.send',
  'message.delivered',
  'message.read',
  'sync',
  'ping',
  'message.forward',
  'message.edit',
  'message.delete',
  'conversation.members.add',
  'conversation.members.remove',
  'conversation.leave',
  'conversation.role.set',
  'conversation.update',
  'conversation.mute',
  'presence.subscribe',
  'typing',
] satisfies ClientFrame['type'][];

// ---------------------------------------------------------------- server → client
/**
 * Optional frames a client asks for when it connects (`/v1/ws?features=a,b`); unknown names
 * are ignored. Without `receipt.batch`, group receipts arrive as standard `receipt` frames;
 * without `presence.batch`, presence changes arrive as one `presence` frame each.
 */
export const FEATURES = ['receipt.batch', 'presence.batch'] as const;
export type Feature = (typeof FEATURES)[number];
/** The known features named in a `features` query value (comma-separated). */
export function parseFeatures(value: unknown): Set<Feature> {
  const names = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : [];
  return new Set(FEATURES.filter((f) => names.includes(f)));
}

export const HelloFrame = z.object({
  type: z.literal('hello'),
  userId: UserId,
  deviceId: DeviceId,
  edgeId: z.string(),
  serverTime: z.string(),
  /** The optional frames this connection gets (extension; see FEATURES). */
  features: z.array(z.string()).optional(),
}).describe('The first frame on every connection, sent once the device is registered for live delivery.');
export const ConversationCreatedFrame = z.object({
  type: z.literal('conversation.created'),
  ref: Ref,
  conversationId: ConversationId,
  kind: ConversationKind,
  members: z.array(UserId),
}).describe('Answer to `conversation.create`.');
export const MessageSentFrame = z.object({
  type: z.literal('message.sent'),
  clientMsgId: ClientMsgId,
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  sentAt: z.string(),
}).describe('Answer to `message.send` and `message.forward`: the message is stored.');
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
  mentions: z.array(UserId).optional(),
  /** The message was forwarded from another conversation. */
  forwarded: z.literal(true).optional(),
  /** Set on system messages (joins and leaves); `senderId` is who caused it. */
  system: SystemInfo.optional(),
  /** Set once the message was edited. */
  editedAt: z.string().optional(),
}).describe('A new message in a conversation, or a system message (a join, removal or leave).');
export const MessageEditedFrame = z.object({
  type: z.literal('message.edited'),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  body: MessageBody,
  editedAt: z.string(),
  /** Present on the answer to the device that edited. */
  ref: Ref.optional(),
  cursor: z.string().optional(),
}).describe('A message was edited (also the answer to `message.edit`).');
export const MessageDeletedFrame = z.object({
  type: z.literal('message.deleted'),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  scope: z.enum(['everyone', 'me']),
  deletedAt: z.string(),
  ref: Ref.optional(),
  cursor: z.string().optional(),
}).describe('A message was deleted for everyone, or hidden for this user (also the answer to `message.delete`).');
export const ReceiptBatchFrame = z.object({
  type: z.literal('receipt.batch'),
  conversationId: ConversationId,
  receipts: z.array(
    z.object({ userId: UserId, status: z.enum(['delivered', 'read']), upToSeq: Seq, at: z.string() }),
  ),
}).describe('Group receipts, coalesced per conversation over a short window (see docs/protocol.md); only with `?features=receipt.batch`.');
export const ConversationActivityFrame = z.object({
  type: z.literal('conversation.activity'),
  conversationId: ConversationId,
  lastActivityAt: z.string(),
  lastMessage: z
    .object({ messageId: MessageId, seq: PositiveSeq, senderId: UserId, preview: z.string(), sentAt: z.string() })
    .nullable(),
  unreadCount: z.number().int().nonnegative(),
  mentioned: z.boolean().optional(),
}).describe('A conversation-list entry changed for this user in a way its other frames do not show.');
export const ReceiptFrame = z.object({
  type: z.literal('receipt'),
  conversationId: ConversationId,
  userId: UserId,
  status: z.enum(['delivered', 'read']),
  upToSeq: Seq,
  at: z.string(),
}).describe("A member's delivered or read watermark moved.");
export const ConversationUpdatedFrame = z.object({
  type: z.literal('conversation.updated'),
  conversationId: ConversationId,
  kind: ConversationKind,
  title: z.string().optional(),
  members: z.array(UserId),
  /** What changed: created, members_added, member_removed, member_left, role_changed, title, description, avatarUrl. */
  changed: z.array(z.string()),
  description: z.string().optional(),
  avatarUrl: z.string().optional(),
  roles: z.record(z.string(), Role).optional(),
  /** Users the change was about (added, removed, left, role changed). */
  userIds: z.array(UserId).optional(),
  /** Who made the change. */
  by: UserId.optional(),
  /** Present on the answer to the device that asked. */
  ref: Ref.optional(),
  /** false for a user who is no longer a member (removed or left). */
  member: z.boolean().optional(),
}).describe("A conversation's members, roles or metadata changed (also the answer to the membership, role and update frames).");
export const ConversationMutedFrame = z.object({
  type: z.literal('conversation.muted'),
  ref: Ref,
  conversationId: ConversationId,
  muted: z.boolean(),
  until: z.string().optional(),
}).describe("Answer to `conversation.mute`: the caller's setting as it now is.");
/** Frames a sync batch can hold, in the order they happened. */
export const SyncedFrame = z.discriminatedUnion('type', [MessageNewFrame, MessageEditedFrame, MessageDeletedFrame]);
export type SyncedFrame = z.infer<typeof SyncedFrame>;
export const SyncBatchFrame = z.object({
  type: z.literal('sync.batch'),
  ref: Ref,
  frames: z.array(SyncedFrame),
  cursor: z.string().nullable(),
  hasMore: z.boolean(),
}).describe('Answer to `sync`: frames in commit order, and the cursor to continue from.');
export const SyncResetFrame = z.object({ type: z.literal('sync.reset'), ref: Ref, reason: z.string() }).describe('Answer to `sync` when the cursor is older than the retained history: reload from the HTTP API and sync from null.');
export const SyncRequiredFrame = z.object({ type: z.literal('sync.required'), reason: z.string() }).describe('Live frames may have missed this device (its route had to be re-created: Redis lost it, or refreshes failed for longer than the TTL): `sync` from the stored cursor now.');
export const PongFrame = z.object({ type: z.literal('pong'), ref: Ref.optional() }).describe('Answer to `ping`.');
export const ServerDrainingFrame = z.object({ type: z.literal('server.draining'), closeInMs: z.number().int().nonnegative() }).describe('The edge is shutting down: reconnect now (to another edge) rather than wait for the close. Sockets still open after `closeInMs` are closed with 1001.');
/**
 * A user's presence as the viewer may see it: `online` while any of their devices is connected;
 * `lastSeenAt` when their last device went away (null while online).
 */
export const PresenceInfo = z.object({
  userId: UserId,
  online: z.boolean(),
  lastSeenAt: z.string().nullable(),
});
export type PresenceInfo = z.infer<typeof PresenceInfo>;
export const PresenceSnapshotFrame = z.object({ type: z.literal('presence.snapshot'), ref: Ref, users: z.array(PresenceInfo) }).describe('The answer to `presence.subscribe`: the watched users the subscriber may see (those sharing a conversation with them).');
export const PresenceFrame = PresenceInfo.extend({ type: z.literal('presence') }).describe("One watched user's presence changed.");
export const PresenceBatchFrame = z.object({ type: z.literal('presence.batch'), users: z.array(PresenceInfo).min(1) }).describe(
  'Watched users whose presence changed, heard by the edge together (one entry per user, the newest); what separate `presence` frames would say, in one frame. Only with `?features=presence.batch`.',
);
export const TypingServerFrame = z.object({
  type: z.literal('typing'),
  conversationId: ConversationId,
  userId: UserId,
  state: z.enum(['start', 'stop']),
}).describe('Another member is typing (`start`: treat as ended after 5 s without another) or stopped.');
export const ErrorFrame = z.object({
  type: z.literal('error'),
  code: z.enum(ERROR_CODES),
  message: z.string(),
  ref: z.string().optional(),
  clientMsgId: z.string().optional(),
  retryAfterMs: z.number().int().nonnegative().optional(),
}).describe('A frame was refused; `ref` or `clientMsgId` names the frame it answers.');

export const ServerFrame = z.discriminatedUnion('type', [
  HelloFrame,
  ConversationCreatedFrame,
  MessageSentFrame,
  MessageNewFrame,
  ReceiptFrame,
  ConversationUpdatedFrame,
  SyncBatchFrame,
  SyncResetFrame,
  SyncRequiredFrame,
  PongFrame,
  ErrorFrame,
  MessageEditedFrame,
  MessageDeletedFrame,
  ReceiptBatchFrame,
  ConversationActivityFrame,
  ServerDrainingFrame,
  ConversationMutedFrame,
  PresenceSnapshotFrame,
  PresenceFrame,
  PresenceBatchFrame,
  TypingServerFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
export type ClientFrameOf<T extends ClientFrame['type']> = Extract<ClientFrame, { type: T }>;
export type MessageNew = z.infer<typeof MessageNewFrame>;
export type Receipt = z.infer<typeof ReceiptFrame>;
