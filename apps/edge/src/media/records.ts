import type { MediaInfo } from '@chat/contracts';
import type { Pool } from '@chat/postgres';

/** One upload as the `media` table holds it. */
export interface MediaRecord {
  mediaId: string;
  ownerId: string;
  contentType: string;
  size: number;
  sha256: string;
  status: 'pending' | 'ready';
  width: number | null;
  height: number | null;
  durationMs: number | null;
  thumbWidth: number | null;
  thumbHeight: number | null;
  createdAt: Date;
}

interface Row {
  media_id: string;
  owner_id: string;
  content_type: string;
  size: string;
  sha256: string;
  status: 'pending' | 'ready';
  width: number | null;
  height: number | null;
  duration_ms: number | null;
  thumb_width: number | null;
  thumb_height: number | null;
  created_at: Date;
}

const toRecord = (r: Row): MediaRecord => ({
  mediaId: r.media_id,
  ownerId: r.owner_id,
  contentType: r.content_type,
  size: Number(r.size),
  sha256: r.sha256,
  status: r.status,
  width: r.width,
  height: r.height,
  durationMs: r.duration_ms,
  thumbWidth: r.thumb_width,
  thumbHeight: r.thumb_height,
  createdAt: r.created_at,
});

/** A ready upload as messages carry it. */
export function mediaInfo(r: MediaRecord): MediaInfo {
  return {
    mediaId: r.mediaId,
    contentType: r.contentType,
    size: r.size,
    sha256: r.sha256,
    ...(r.width !== null && r.height !== null ? { width: r.width, height: r.height } : {}),
    ...(r.durationMs !== null ? { durationMs: r.durationMs } : {}),
    ...(r.thumbWidth !== null && r.thumbHeight !== null ? { thumbnail: { width: r.thumbWidth, height: r.thumbHeight } } : {}),
  };
}

/** The edge's media records (the `media` table: migration 1700000000005_media.sql). */
export class MediaRecords {
  constructor(private readonly pool: Pool) {}

  async create(r: { mediaId: string; ownerId: string; contentType: string; size: number; sha256: string; durationMs?: number }): Promise<void> {
    await this.pool.query(
      `INSERT INTO media (media_id, owner_id, content_type, size, sha256, status, duration_ms) VALUES ($1, $2, $3, $4, $5, 'pending', $6)`,
      [r.mediaId, r.ownerId, r.contentType, r.size, r.sha256, r.durationMs ?? null],
    );
  }

  async get(mediaId: string): Promise<MediaRecord | null> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM media WHERE media_id = $1', [mediaId]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Marks a checked upload ready with what the check found; returns the record as it now is. */
  async ready(mediaId: string, found: { width?: number; height?: number; thumbnail?: { width: number; height: number } }): Promise<MediaRecord> {
    const { rows } = await this.pool.query<Row>(
      `UPDATE media SET status = 'ready', ready_at = now(), width = $2, height = $3, thumb_width = $4, thumb_height = $5
        WHERE media_id = $1 RETURNING *`,
      [mediaId, found.width ?? null, found.height ?? null, found.thumbnail?.width ?? null, found.thumbnail?.height ?? null],
    );
    return toRecord(rows[0]!);
  }

  /** Notes that a message is about to carry the media: from then on the clean-up removes it soon after no message does. */
  async markSent(mediaId: string): Promise<void> {
    await this.pool.query('UPDATE media SET sent_at = now() WHERE media_id = $1 AND sent_at IS NULL', [mediaId]);
  }

  /** Removes an upload whose bytes did not match what was declared (the client starts again). */
  async remove(mediaId: string): Promise<void> {
    await this.pool.query('DELETE FROM media WHERE media_id = $1', [mediaId]);
  }

  /**
   * Whether the user may download a media object: they uploaded it, or they are a member of a
   * conversation where a live message (not deleted for everyone, not expired) carries it, from
   * their join on and not hidden by them.
   */
  async mayRead(userId: string, mediaId: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ ok: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM media WHERE media_id = $1 AND owner_id = $2 AND status = 'ready')
           OR EXISTS (SELECT 1 FROM messages m
                        JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2 AND cm.joined_after_seq < m.seq
                       WHERE m.media_id = $1
                         AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $2 AND h.conversation_id = m.conversation_id AND h.seq = m.seq)) AS ok`,
      [mediaId, userId],
    );
    return rows[0]?.ok === true;
  }
}
