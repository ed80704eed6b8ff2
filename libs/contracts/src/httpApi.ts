import { z } from 'zod';
import { ConversationId, ConversationKind, MessageId, PositiveSeq, UserId } from './ids';
import { ContentType, MediaId, MediaInfo, MessageBody, Sha256Hex } from './body';
import { ERROR_CODES } from './errors';
import { MessageNewFrame, PresenceInfo } from './frames';
import { LastSeenVisibility } from './events';
import { LIMITS } from './limits';

// The HTTP API's requests and bodies (docs/protocol.md, "HTTP API"). Query strings arrive as
// text: numbers are coerced.

/** Every error answer (any status), in the protocol's one vocabulary of codes. */
export const ErrorBody = z.object({
  error: z.object({ code: z.enum(ERROR_CODES), message: z.string(), retryAfterMs: z.number().int().nonnegative().optional() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

// ---------------------------------------------------------------- GET /v1/conversations
export const ConversationListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(LIMITS.maxConversationPage).default(LIMITS.defaultConversationPage).describe('Conversations per page'),
  cursor: z.string().max(200).optional().describe("The previous page's `nextCursor`; absent: the newest page"),
});

/** What a list row shows of the newest message (system messages included). */
export const LastMessage = z.object({
  messageId: z.string(),
  seq: PositiveSeq,
  senderId: UserId,
  /** The start of the text; a fixed text once the message was deleted or its body expired. */
  preview: z.string(),
  sentAt: z.string(),
  deleted: z.literal(true).optional(),
  expired: z.literal(true).optional(),
});
export type LastMessage = z.infer<typeof LastMessage>;

export const ConversationListEntry = z.object({
  conversationId: ConversationId,
  kind: ConversationKind,
  title: z.string().nullable(),
  /** Null for groups over 64 members; `memberCount` is always there. */
  members: z.array(UserId).nullable(),
  memberCount: z.number().int().nonnegative(),
  lastMessage: LastMessage.nullable(),
  unreadCount: z.number().int().nonnegative(),
  mentionCount: z.number().int().nonnegative(),
  lastActivityAt: z.string(),
  description: z.string().optional(),
  avatarUrl: z.string().optional(),
});
export type ConversationListEntry = z.infer<typeof ConversationListEntry>;

export const ConversationListPage = z.object({
  conversations: z.array(ConversationListEntry),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type ConversationListPage = z.infer<typeof ConversationListPage>;

// ---------------------------------------------------------------- GET /v1/conversations/:id/messages
export const HistoryQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(LIMITS.maxHistoryLimit).default(LIMITS.defaultHistoryLimit).describe('Messages per page'),
    beforeSeq: z.coerce.number().int().min(1).optional().describe('The page ends just before this seq (paging back); absent: at the newest message'),
    afterSeq: z.coerce.number().int().min(0).optional().describe('The page starts just after this seq (paging forward); not with beforeSeq'),
  })
  .refine((q) => q.beforeSeq === undefined || q.afterSeq === undefined, 'use beforeSeq or afterSeq, not both');

/** A `message.new` frame's fields; a message deleted for everyone or whose body expired has `body: null`. */
export const HistoryMessage = MessageNewFrame.extend({
  body: MessageBody.nullable(),
  deletedAt: z.string().optional(),
  expired: z.literal(true).optional(),
  expiredAt: z.string().optional(),
});
export type HistoryMessage = z.infer<typeof HistoryMessage>;

export const HistoryPage = z.object({
  /** Oldest first. */
  messages: z.array(HistoryMessage),
  hasMore: z.boolean(),
});
export type HistoryPage = z.infer<typeof HistoryPage>;

// ---------------------------------------------------------------- GET /v1/conversations/:id/messages/:messageId/receipts
export const ConversationParams = z.object({ id: ConversationId.describe('The conversation') });
export const MessageParams = z.object({ id: ConversationId.describe('The conversation'), messageId: MessageId.describe('The message') });

export const ReceiptsBody = z.object({
  delivered: z.array(z.object({ userId: UserId, at: z.string().nullable(), devices: z.object({ delivered: z.number().int(), total: z.number().int() }) })),
  read: z.array(z.object({ userId: UserId, at: z.string().nullable() })),
  pending: z.array(UserId),
});
export type ReceiptsBody = z.infer<typeof ReceiptsBody>;

// ---------------------------------------------------------------- media (docs/media.md)
/** `POST /v1/media`: what the client is about to upload. */
export const MediaUploadRequest = z
  .object({
    contentType: ContentType,
    size: z.number().int().positive(),
    sha256: Sha256Hex,
    /** Audio and video: the length, as the client knows it (the server does not decode media). */
    durationMs: z.number().int().nonnegative().optional(),
  })
  .strict();
export type MediaUploadRequest = z.infer<typeof MediaUploadRequest>;

/** `201` to `POST /v1/media`: `PUT` the bytes to `uploadUrl` with exactly `uploadHeaders`, before `expiresAt`. */
export const MediaUpload = z.object({
  mediaId: MediaId,
  uploadUrl: z.string(),
  uploadHeaders: z.record(z.string(), z.string()),
  expiresAt: z.string(),
});
export type MediaUpload = z.infer<typeof MediaUpload>;

/** `200` to `POST /v1/media/{mediaId}/complete`: the upload checked and stored; send it in a message. */
export const MediaReady = MediaInfo.extend({ status: z.literal('ready') });
export type MediaReady = z.infer<typeof MediaReady>;

export const MediaParams = z.object({ mediaId: MediaId.describe('The media object') });

// ---------------------------------------------------------------- GET /v1/users/{userId}/presence
/** A user's presence under the same rules as `presence.subscribe`; a user who shares no conversation with the caller is 404. */
export const UserPresence = PresenceInfo;
export type UserPresence = z.infer<typeof UserPresence>;
export const UserParams = z.object({ userId: UserId.describe('The user') });

// ---------------------------------------------------------------- /v1/me/settings, /v1/me/blocks
/** GET /v1/me/settings, and the answer to PATCH. */
export const UserSettings = z.object({ lastSeen: LastSeenVisibility });
export type UserSettings = z.infer<typeof UserSettings>;
/** PATCH /v1/me/settings. */
export const UserSettingsPatch = z.object({ lastSeen: LastSeenVisibility }).strict();
/** GET /v1/me/blocks: whom the caller blocks, newest first. */
export const BlockList = z.object({ blocks: z.array(z.object({ userId: UserId, at: z.string() })) });
export type BlockList = z.infer<typeof BlockList>;
