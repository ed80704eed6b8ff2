import { ChatError, type EdgeConfig, type MediaInfo, type MediaReady, type MediaUpload, type MediaUploadRequest } from '@chat/contracts';
import type { MediaInspector, MediaStore } from '@chat/media';
import { newId } from '../ids';
import { mediaInfo, type MediaRecords } from './records';

export type MediaLimits = Pick<
  EdgeConfig,
  | 'CHAT_MEDIA_TYPES'
  | 'CHAT_MEDIA_MAX_IMAGE'
  | 'CHAT_MEDIA_MAX_VIDEO'
  | 'CHAT_MEDIA_MAX_AUDIO'
  | 'CHAT_MEDIA_MAX_FILE'
  | 'CHAT_MEDIA_UPLOAD_EXPIRY'
  | 'CHAT_MEDIA_DOWNLOAD_EXPIRY'
>;

/** The largest upload allowed for a content type (by its top-level type). */
export function maxSize(limits: MediaLimits, contentType: string): number {
  const top = contentType.split('/')[0];
  if (top === 'image') return limits.CHAT_MEDIA_MAX_IMAGE;
  if (top === 'video') return limits.CHAT_MEDIA_MAX_VIDEO;
  if (top === 'audio') return limits.CHAT_MEDIA_MAX_AUDIO;
  return limits.CHAT_MEDIA_MAX_FILE;
}

/**
 * Uploads and downloads of media (docs/media.md). The bytes never pass through the edge:
 * clients PUT them to a presigned URL under a staging key of their own upload; `complete`
 * checks what was stored against what was declared, keeps the bytes once per SHA-256 and
 * makes the thumbnail; downloads are redirects to short-lived presigned GETs.
 */
export class MediaService {
  constructor(
    private readonly o: { store: MediaStore; inspector: MediaInspector; records: MediaRecords; limits: MediaLimits; now?: () => number },
  ) {}

  async register(userId: string, req: MediaUploadRequest): Promise<MediaUpload> {
    const { limits, store, records } = this.o;
    if (!limits.CHAT_MEDIA_TYPES.includes(req.contentType)) throw new ChatError('bad_request', `content type ${req.contentType} is not allowed (allowed: ${limits.CHAT_MEDIA_TYPES.join(', ')})`);
    const max = maxSize(limits, req.contentType);
    if (req.size > max) throw new ChatError('payload_too_large', `${req.contentType} uploads are at most ${max} bytes`);
    const mediaId = newId();
    await records.create({ mediaId, ownerId: userId, contentType: req.contentType, size: req.size, sha256: req.sha256, ...(req.durationMs !== undefined ? { durationMs: req.durationMs } : {}) });
    const expiresInSec = Math.max(1, Math.round(limits.CHAT_MEDIA_UPLOAD_EXPIRY / 1000));
    const { url, headers } = await store.presignPut(store.uploadKey(mediaId), { contentType: req.contentType, size: req.size, sha256Hex: req.sha256, expiresInSec });
    return { mediaId, uploadUrl: url, uploadHeaders: headers, expiresAt: new Date((this.o.now ?? Date.now)() + expiresInSec * 1000).toISOString() };
  }

  /**
   * Checks the uploaded object: it exists, and its size and SHA-256 are the declared ones. A
   * mismatch removes the object and the upload (409); a match stores the bytes under their
   * SHA-256 (once, however many uploads had them), with a thumbnail for images.
   */
  async complete(userId: string, mediaId: string): Promise<MediaReady> {
    const { store, inspector, records } = this.o;
    const rec = await records.get(mediaId);
    // Someone else's upload is reported like an unknown one: ids do not leak.
    if (!rec || rec.ownerId !== userId) throw new ChatError('not_found', 'no such upload');
    if (rec.status === 'ready') return { ...mediaInfo(rec), status: 'ready' };
    const staging = store.uploadKey(mediaId);
    const stored = await store.head(staging);
    if (!stored) throw new ChatError('conflict', 'nothing was uploaded for this media id (PUT the bytes to the upload URL first)');
    const found = await inspector.inspect(staging, rec.contentType);
    if (found.size !== rec.size || found.sha256Hex !== rec.sha256) {
      await store.delete(staging);
      await records.remove(mediaId);
      throw new ChatError('conflict', `the uploaded bytes do not match the declaration (size ${found.size}, SHA-256 ${found.sha256Hex}); upload again`);
    }
    // Written even when the same bytes are stored already (the same key, so still once): a
    // clean-up that found no upload of these bytes a moment ago cannot leave this one without them.
    await store.copy(staging, store.blobKey(rec.sha256));
    const thumb = found.thumbnail;
    if (thumb) await store.put(store.thumbKey(rec.sha256), thumb.jpeg, 'image/jpeg');
    await store.delete(staging);
    const ready = await records.ready(mediaId, {
      ...(found.width !== undefined && found.height !== undefined ? { width: found.width, height: found.height } : {}),
      ...(thumb ? { thumbnail: { width: thumb.width, height: thumb.height } } : {}),
    });
    return { ...mediaInfo(ready), status: 'ready' };
  }

  /** A ready upload of the user's, as a message carries it; anything else is refused. */
  async sendable(userId: string, mediaId: string): Promise<MediaInfo> {
    const rec = await this.o.records.get(mediaId);
    if (!rec || rec.ownerId !== userId) throw new ChatError('bad_request', `media ${mediaId} is not an upload of yours`);
    if (rec.status !== 'ready') throw new ChatError('bad_request', `media ${mediaId} is not complete yet (POST /v1/media/${mediaId}/complete)`);
    await this.o.records.markSent(mediaId);
    return mediaInfo(rec);
  }

  /** Where the user may download the media (or its thumbnail) from: a presigned GET; 404 for anyone who may not. */
  async download(userId: string, mediaId: string, what: 'media' | 'thumbnail'): Promise<string> {
    const { store, records, limits } = this.o;
    const rec = await records.get(mediaId);
    if (!rec || rec.status !== 'ready' || !(await records.mayRead(userId, mediaId))) throw new ChatError('not_found', 'no such media');
    if (what === 'thumbnail' && rec.thumbWidth === null) throw new ChatError('not_found', 'this media has no thumbnail');
    const expiresInSec = Math.max(1, Math.round(limits.CHAT_MEDIA_DOWNLOAD_EXPIRY / 1000));
    return what === 'media'
      ? store.presignGet(store.blobKey(rec.sha256), { expiresInSec, contentType: rec.contentType })
      : store.presignGet(store.thumbKey(rec.sha256), { expiresInSec, contentType: 'image/jpeg' });
  }
}
