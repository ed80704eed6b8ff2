import { z } from 'zod';
import { LIMITS } from './limits';

export const TextBody = z.object({ text: z.string().min(1).max(LIMITS.maxTextLength) }).strict();
export type TextBody = z.infer<typeof TextBody>;

/** A media object's id (assigned by `POST /v1/media`). */
export const MediaId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 chars of [A-Za-z0-9_-]');
/** Lowercase hex SHA-256 of a media object's bytes. */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (SHA-256)');
export const ContentType = z
  .string()
  .max(127)
  .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/, 'must be a MIME type such as image/jpeg, without parameters');

/** A stored media object as messages carry it (docs/media.md): what a client needs to show and fetch it. */
export const MediaInfo = z
  .object({
    mediaId: MediaId,
    contentType: ContentType,
    size: z.number().int().positive(),
    sha256: Sha256Hex,
    /** Images: pixels. */
    width: z.number().int().positive().optional(),
    height: z.number().int().positive().optional(),
    /** Audio and video, as the uploader declared it. */
    durationMs: z.number().int().nonnegative().optional(),
    /** The server-made thumbnail's size (images), fetched from `GET /v1/media/{mediaId}/thumbnail`. */
    thumbnail: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }).strict().optional(),
  })
  .strict();
export type MediaInfo = z.infer<typeof MediaInfo>;

/** A photo, video, voice note or file, with an optional caption. */
export const MediaBody = z.object({ media: MediaInfo, text: z.string().min(1).max(LIMITS.maxTextLength).optional() }).strict();
export type MediaBody = z.infer<typeof MediaBody>;

/** A message body as stored and delivered: text, or media with an optional caption. */
export const MessageBody = z.union([TextBody, MediaBody]);
export type MessageBody = z.infer<typeof MessageBody>;

/** A body as a client sends it: media by id only (a `ready` upload of the sender's); the server fills in the rest. */
export const SendBody = z.union([
  TextBody,
  z.object({ media: z.object({ mediaId: MediaId }).strict(), text: z.string().min(1).max(LIMITS.maxTextLength).optional() }).strict(),
]);
export type SendBody = z.infer<typeof SendBody>;

export const isMediaBody = (b: MessageBody): b is MediaBody => 'media' in b;

/**
 * What a system message (a join or leave in the timeline) says, for clients to render in
 * their own language; `body.text` carries an English rendering.
 */
export const SystemInfo = z.object({
  event: z.enum(['members_added', 'member_removed', 'member_left']),
  by: z.string(),
  userIds: z.array(z.string()),
});
export type SystemInfo = z.infer<typeof SystemInfo>;
