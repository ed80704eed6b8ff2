import { z } from 'zod';
import { ClientMsgId, ConversationId, ConversationKind, DeviceId, MessageId, PositiveSeq, Role, UserId } from './ids';
import { MessageBody } from './body';

const At = z.string().describe('When it happened: the time the edge received the command (ISO 8601)');

/** A member and their role, as membership and role events carry them. */
export const MemberRole = z.object({ userId: UserId.describe('The member'), role: Role.describe('Their role: owner, admin or member') });

// Events on chat.evt.conv.<conversationId> (the conversation aggregate)
export const ConversationCreated = z
  .object({
    type: z.literal('ConversationCreated'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The new conversation: `d-<hash>` (direct, one per pair of users) or `g-<ulid>` (group)'),
    kind: ConversationKind.describe('`direct` (two fixed members) or `group`'),
    title: z.string().optional().describe('The group title'),
    createdBy: UserId.describe('The user who created it (a member)'),
    members: z.array(MemberRole).describe('Every member with their role, the creator included (owner of a group)'),
    at: At,
    description: z.string().optional().describe('The group description'),
    avatarUrl: z.string().optional().describe("The group avatar's http(s) URL"),
  })
  .describe('A conversation was created.');
export const MessageSent = z
  .object({
    type: z.literal('MessageSent'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The conversation'),
    messageId: MessageId.describe('The id the edge assigned to the message'),
    seq: PositiveSeq.describe("The message's position in the conversation's timeline (dense from 1)"),
    senderId: UserId.describe('The author'),
    senderDeviceId: DeviceId.describe('The device it was sent from (that device gets `message.sent`, not `message.new`)'),
    clientMsgId: ClientMsgId.describe("The sender's idempotency key: sending it again answers this message and appends nothing"),
    body: MessageBody.describe('Text, or a media object with an optional caption'),
    replyTo: MessageId.optional().describe('The message of the same conversation it answers'),
    sentAt: z.string().describe('When the edge received it (ISO 8601)'),
    mentions: z.array(UserId).optional().describe('Members mentioned (@user)'),
    forwarded: z
      .object({ conversationId: ConversationId.describe('The source conversation'), messageId: MessageId.describe('The source message') })
      .optional()
      .describe('Set when the message is a forwarded copy: where it came from'),
  })
  .describe('A message was sent (or forwarded) to a conversation.');

// Membership changes that appear in the timeline take a seq of their own (a system message).
export const MembersAdded = z
  .object({
    type: z.literal('MembersAdded'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The group'),
    seq: PositiveSeq.describe("The system message's position in the timeline; the new members see from it on"),
    by: UserId.describe('Who added them (owner or admin)'),
    members: z.array(MemberRole).describe('The new members and their roles'),
    at: At,
  })
  .describe('Members joined a group (a system message in the timeline).');
export const MemberRemoved = z
  .object({
    type: z.literal('MemberRemoved'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The group'),
    seq: PositiveSeq.describe("The system message's position in the timeline; the removed member sees nothing after it"),
    by: UserId.describe('Who removed them (owner or admin)'),
    userId: UserId.describe('The removed member'),
    at: At,
  })
  .describe('A member was removed from a group (a system message in the timeline).');
export const MemberLeft = z
  .object({
    type: z.literal('MemberLeft'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The group'),
    seq: PositiveSeq.describe("The system message's position in the timeline; the member sees nothing after it"),
    userId: UserId.describe('The member who left'),
    at: At,
  })
  .describe('A member left a group (a system message in the timeline).');
export const RolesChanged = z
  .object({
    type: z.literal('RolesChanged'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The group'),
    by: UserId.describe('Who changed them (the owner)'),
    changes: z.array(MemberRole).describe('Every role that changed: a hand-over of ownership changes two'),
    at: At,
  })
  .describe('Members\' roles changed; takes no seq.');
export const ConversationUpdated = z
  .object({
    type: z.literal('ConversationUpdated'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The group'),
    by: UserId.describe('Who changed it (owner or admin)'),
    title: z.string().optional().describe('The new title; absent: unchanged'),
    description: z.string().optional().describe('The new description; absent: unchanged'),
    avatarUrl: z.string().optional().describe("The new avatar's http(s) URL; absent: unchanged"),
    at: At,
  })
  .describe("A group's metadata changed; takes no seq.");
export const MessageEdited = z
  .object({
    type: z.literal('MessageEdited'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The conversation'),
    messageId: MessageId.describe('The edited message'),
    seq: PositiveSeq.describe("The edited message's seq (an edit takes no seq of its own)"),
    by: UserId.describe('The author (only the author edits, within the edit window)'),
    body: MessageBody.describe('The new text (of a media message: the caption; the media stays)'),
    at: At,
  })
  .describe("A message's text was edited.");
export const MessageDeleted = z
  .object({
    type: z.literal('MessageDeleted'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The conversation'),
    messageId: MessageId.describe('The deleted message'),
    seq: PositiveSeq.describe("The deleted message's seq (a delete takes no seq of its own)"),
    by: UserId.describe('The author within the delete window, or an admin or the owner'),
    at: At,
  })
  .describe('A message was deleted for everyone: its body leaves every read model, a tombstone keeps its seq.');
export const MessageHidden = z
  .object({
    type: z.literal('MessageHidden'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The conversation'),
    messageId: MessageId.describe('The hidden message'),
    seq: PositiveSeq.describe("The hidden message's seq (a hide takes no seq of its own)"),
    userId: UserId.describe('The member it is hidden for'),
    at: At,
  })
  .describe('Delete for me: a message hidden for one user, on all of their devices.');

// Events on chat.evt.rcpt.<conversationId>.<userId> (one member's watermarks)
export const MessagesDelivered = z
  .object({
    type: z.literal('MessagesDelivered'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The conversation'),
    userId: UserId.describe('The member whose watermark moved'),
    deviceId: DeviceId.describe('The device that acknowledged'),
    upToSeq: PositiveSeq.describe("Every message up to this seq reached the device (clamped to the conversation's last seq)"),
    at: At,
  })
  .describe("A member's delivered watermark (or one of their devices') moved forward.");
export const MessagesRead = z
  .object({
    type: z.literal('MessagesRead'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The conversation'),
    userId: UserId.describe('The member whose watermark moved'),
    deviceId: DeviceId.describe('The device they read on'),
    upToSeq: PositiveSeq.describe("Every message up to this seq was read (clamped to the conversation's last seq); read implies delivered"),
    at: At,
  })
  .describe("A member's read watermark moved forward.");

// Events on chat.pref.<conversationId>.<userId> (one member's preferences). Outside
// `chat.evt.>` and outside ChatEvent: they are not messages of a conversation. The preferences
// projection reads them (the mute table the notifier consults; see docs/events.md and
// docs/notifications.md).
export const MemberMuteChanged = z
  .object({
    type: z.literal('MemberMuteChanged'),
    v: z.literal(1),
    conversationId: ConversationId.describe('The conversation'),
    userId: UserId.describe('The member (the setting applies to all of their devices)'),
    muted: z.boolean().describe('Whether push notifications of the conversation are muted'),
    until: z.string().optional().describe('ISO time the mute ends by itself; absent: until unmuted. Only with `muted: true`'),
    at: At,
  })
  .describe("A member's mute of a conversation changed; each event carries the whole setting.");
export type MemberMuteChanged = z.infer<typeof MemberMuteChanged>;

// Events on chat.pref.user.<userId> (one user's own settings: who sees their last seen, whom
// they block). In CHAT_EVENTS like every event, snapshotted like every aggregate: they outlive
// CHAT_MAX_AGE.
/** Who may see the user's last seen (and, for `nobody`, whether they are online). */
export const LastSeenVisibility = z.enum(['everyone', 'contacts', 'nobody']);
export type LastSeenVisibility = z.infer<typeof LastSeenVisibility>;
export const PrivacyChanged = z
  .object({
    type: z.literal('PrivacyChanged'),
    v: z.literal(1),
    userId: UserId.describe('The user'),
    lastSeen: LastSeenVisibility.describe('Who may see their last seen: `everyone`, `contacts`, or `nobody` (who also see them as never online)'),
    at: At,
  })
  .describe("A user's privacy setting changed.");
export type PrivacyChanged = z.infer<typeof PrivacyChanged>;
export const UserBlocked = z
  .object({ type: z.literal('UserBlocked'), v: z.literal(1), userId: UserId.describe('The user who blocks'), blockedUserId: UserId.describe('The user they block'), at: At })
  .describe('A user blocked another.');
export type UserBlocked = z.infer<typeof UserBlocked>;
export const UserUnblocked = z
  .object({ type: z.literal('UserUnblocked'), v: z.literal(1), userId: UserId.describe('The user who unblocks'), blockedUserId: UserId.describe('The user they no longer block'), at: At })
  .describe('A user unblocked another.');
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
