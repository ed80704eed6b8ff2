import { z } from 'zod';
import { ClientMsgId, ConversationId, ConversationKind, DeviceId, MessageId, PositiveSeq, Role, UserId } from './ids';
import { MessageBody } from './body';

/** A member and their role, as membership and role events carry them. */
export const MemberRole = z.object({ userId: UserId, role: Role });

// Events on chat.evt.conv.<conversationId> (the conversation aggregate)
export const ConversationCreated = z.object({
  type: z.literal('ConversationCreated'),
  v: z.literal(1),
  conversationId: ConversationId,
  kind: ConversationKind,
  title: z.string().optional(),
  createdBy: UserId,
  members: z.array(MemberRole),
  at: z.string(),
  description: z.string().optional(),
  avatarUrl: z.string().optional(),
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
  mentions: z.array(UserId).optional(),
  forwarded: z.object({ conversationId: ConversationId, messageId: MessageId }).optional(),
});

// Membership changes that appear in the timeline take a seq of their own (a system message).
export const MembersAdded = z.object({
  type: z.literal('MembersAdded'),
  v: z.literal(1),
  conversationId: ConversationId,
  seq: PositiveSeq,
  by: UserId,
  members: z.array(MemberRole),
  at: z.string(),
});
export const MemberRemoved = z.object({
  type: z.literal('MemberRemoved'),
  v: z.literal(1),
  conversationId: ConversationId,
  seq: PositiveSeq,
  by: UserId,
  userId: UserId,
  at: z.string(),
});
export const MemberLeft = z.object({
  type: z.literal('MemberLeft'),
  v: z.literal(1),
  conversationId: ConversationId,
  seq: PositiveSeq,
  userId: UserId,
  at: z.string(),
});
/** Role changes carry every role that changed: a hand-over changes two. */
export const RolesChanged = z.object({
  type: z.literal('RolesChanged'),
  v: z.literal(1),
  conversationId: ConversationId,
  by: UserId,
  changes: z.array(MemberRole),
  at: z.string(),
});
export const ConversationUpdated = z.object({
  type: z.literal('ConversationUpdated'),
  v: z.literal(1),
  conversationId: ConversationId,
  by: UserId,
  title: z.string().optional(),
  description: z.string().optional(),
  avatarUrl: z.string().optional(),
  at: z.string(),
});
export const MessageEdited = z.object({
  type: z.literal('MessageEdited'),
  v: z.literal(1),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  by: UserId,
  body: MessageBody,
  at: z.string(),
});
export const MessageDeleted = z.object({
  type: z.literal('MessageDeleted'),
  v: z.literal(1),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  by: UserId,
  at: z.string(),
});
/** Delete for me: hidden for one user, on all of their devices. */
export const MessageHidden = z.object({
  type: z.literal('MessageHidden'),
  v: z.literal(1),
  conversationId: ConversationId,
  messageId: MessageId,
  seq: PositiveSeq,
  userId: UserId,
  at: z.string(),
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

// Events on chat.pref.<conversationId>.<userId> (one member's preferences). Deliberately
// outside `chat.evt.>` and outside ChatEvent: no projection reads them (the projector's
// consumers filter on `chat.evt.…` and parse every event they get as a ChatEvent); the
// notifier does. See docs/notifications.md.
export const MemberMuteChanged = z.object({
  type: z.literal('MemberMuteChanged'),
  v: z.literal(1),
  conversationId: ConversationId,
  userId: UserId,
  muted: z.boolean(),
  /** ISO time the mute ends by itself; absent = until unmuted. Only with `muted: true`. */
  until: z.string().optional(),
  at: z.string(),
});
export type MemberMuteChanged = z.infer<typeof MemberMuteChanged>;

// Events on chat.pref.user.<userId> (one user's own settings: who sees their last seen, whom
// they block). In CHAT_EVENTS like every event, snapshotted like every aggregate: they outlive
// CHAT_MAX_AGE.
/** Who may see the user's last seen (and, for `nobody`, whether they are online). */
export const LastSeenVisibility = z.enum(['everyone', 'contacts', 'nobody']);
export type LastSeenVisibility = z.infer<typeof LastSeenVisibility>;
export const PrivacyChanged = z.object({
  type: z.literal('PrivacyChanged'),
  v: z.literal(1),
  userId: UserId,
  lastSeen: LastSeenVisibility,
  at: z.string(),
});
export type PrivacyChanged = z.infer<typeof PrivacyChanged>;
export const UserBlocked = z.object({ type: z.literal('UserBlocked'), v: z.literal(1), userId: UserId, blockedUserId: UserId, at: z.string() });
export type UserBlocked = z.infer<typeof UserBlocked>;
export const UserUnblocked = z.object({ type: z.literal('UserUnblocked'), v: z.literal(1), userId: UserId, blockedUserId: UserId, at: z.string() });
export type UserUnblocked = z.infer<typeof UserUnblocked>;
export const UserSettingsEvent = z.discriminatedUnion('type', [PrivacyChanged, UserBlocked, UserUnblocked]);
export type UserSettingsEvent = z.infer<typeof UserSettingsEvent>;
const USER_SETTINGS_EVENT_TYPES: ReadonlySet<string> = new Set(UserSettingsEvent.options.map((o) => o.shape.type.value));
/** An event of a user's own settings (chat.pref.user.<userId>). */
export const isUserSettingsEvent = (e: { type: string }): e is UserSettingsEvent => USER_SETTINGS_EVENT_TYPES.has(e.type);

/** Every event on chat.pref.>: a member's preferences in a conversation, and a user's own settings. */
export const MemberPreferenceEvent = z.discriminatedUnion('type', [MemberMuteChanged, PrivacyChanged, UserBlocked, UserUnblocked]);
export type MemberPreferenceEvent = z.infer<typeof MemberPreferenceEvent>;

/** The preference event as the system's own readers take it (see readEvent). */
export function readPreferenceEvent(json: unknown): MemberPreferenceEvent {
  const e = json as { type?: unknown; v?: unknown; conversationId?: unknown; userId?: unknown };
  const ours = e?.type === 'MemberMuteChanged' && e.v === 1 && typeof e.conversationId === 'string' && typeof e.userId === 'string';
  return ours ? (json as MemberPreferenceEvent) : parsePreferenceEvent(json);
}

/** Parses an event stored on chat.pref.<conversationId>.<userId> or chat.pref.user.<userId>. */
export function parsePreferenceEvent(json: unknown): MemberPreferenceEvent {
  return MemberPreferenceEvent.parse(json);
}

const conversationEvents = [
  ConversationCreated,
  MessageSent,
  MembersAdded,
  MemberRemoved,
  MemberLeft,
  RolesChanged,
  ConversationUpdated,
  MessageEdited,
  MessageDeleted,
  MessageHidden,
] as const;
export const ConversationEvent = z.discriminatedUnion('type', [...conversationEvents]);
export type ConversationEvent = z.infer<typeof ConversationEvent>;
export const ReceiptEvent = z.discriminatedUnion('type', [MessagesDelivered, MessagesRead]);
export type ReceiptEvent = z.infer<typeof ReceiptEvent>;
export const ChatEvent = z.discriminatedUnion('type', [...conversationEvents, MessagesDelivered, MessagesRead]);
export type ChatEvent = z.infer<typeof ChatEvent>;
export type EventOf<T extends ChatEvent['type']> = Extract<ChatEvent, { type: T }>;

/**
 * Upcasting happens here, in one place, when an event shape changes: parse the stored JSON,
 * lift older `v`s to the current shape, validate.
 */
export function parseEvent(json: unknown): ChatEvent {
  return ChatEvent.parse(json);
}

const CHAT_EVENT_TYPES: ReadonlySet<string> = new Set(ChatEvent.options.map((o) => o.shape.type.value));

/**
 * The stored event as the system's own readers take it (the projector, on every event): events
 * in CHAT_EVENTS were written by the command service from validated commands, so only what
 * could route it wrongly is checked (a known type, its conversation, its version); the full
 * validation (`parseEvent`) is for tools reading the stream from outside. Upcasting goes here too.
 */
export function readEvent(json: unknown): ChatEvent {
  const e = json as { type?: unknown; v?: unknown; conversationId?: unknown };
  if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || !CHAT_EVENT_TYPES.has(e.type) || e.v !== 1 || typeof e.conversationId !== 'string') {
    // Not one this version writes: the full parse says why.
    return parseEvent(json);
  }
  return json as ChatEvent;
}

/** Anything the command service appends to CHAT_EVENTS: conversation and receipt events, members' preferences. */
export type StoredEvent = ChatEvent | MemberPreferenceEvent;

/** A stored event as the system's own readers take it, whichever subject family it came from. */
export function readStoredEvent(json: unknown): StoredEvent {
  return (json as { type?: unknown })?.type === 'MemberMuteChanged' ? readPreferenceEvent(json) : readEvent(json);
}
