import type { MediaStore } from '@chat/media';
import type { Pool } from '@chat/postgres';

export interface MediaSweepOptions {
  store: MediaStore;
  /** CHAT_MEDIA_UPLOAD_EXPIRY: an upload not completed by then is gone. */
  uploadExpiryMs: number;
  /** CHAT_MEDIA_UNSENT_TTL: how long a completed upload no message carries is kept. */
  unsentTtlMs: number;
  now?: () => Date;
  /** Rows per statement. */
  chunk?: number;
}

export interface MediaSweepResult {
  /** Uploads removed: never completed, or no message carries them any more. */
  uploads: number;
  /** Stored objects (bytes and thumbnails) removed because no upload has those bytes any more. */
  objects: number;
}

/**
 * After a message was sent, how long its media is kept once no message carries it: a send in
 * flight (marked by the edge, not yet projected) must not lose its media meanwhile.
 */
const SENT_GRACE_MS = 10 * 60_000;

/**
 * Removes media nothing needs (docs/media.md, "Clean-up"), in chunks:
 * - uploads never completed, once their upload URL has expired (and their staging object);
 * - completed uploads no live message carries (messages.media_id: cleared when a message is
 *   deleted for everyone, gone with the message at max age), once a message carried them and
 *   a grace period passed, or, never sent, after CHAT_MEDIA_UNSENT_TTL;
 * - then the stored bytes and thumbnail of every SHA-256 no upload has any more. Bytes are
 *   kept while any upload of them exists, pending ones included: a `complete` running
 *   meanwhile writes them again.
 */
export async function sweepMedia(pool: Pool, o: MediaSweepOptions): Promise<MediaSweepResult> {
  const now = (o.now?.() ?? new Date()).getTime();
  const chunk = o.chunk ?? 500;
  const res: MediaSweepResult = { uploads: 0, objects: 0 };
  for (;;) {
    // One transaction per chunk, committed only once the objects are gone: a failed delete in
    // object storage leaves the rows, and the next sweep tries again.
    const tx = await pool.connect();
    try {
      await tx.query('BEGIN');
      const { rows } = await tx.query<{ media_id: string; sha256: string; status: string }>(
        `DELETE FROM media d USING (
           SELECT media_id FROM media m
            WHERE (m.status = 'pending' AND m.created_at < $1)
               OR (m.status = 'ready' AND (m.sent_at < $2 OR (m.sent_at IS NULL AND m.ready_at < $3))
                   AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.media_id = m.media_id))
            LIMIT $4 FOR UPDATE SKIP LOCKED) pick
          WHERE d.media_id = pick.media_id
          RETURNING d.media_id, d.sha256, d.status`,
        [new Date(now - o.uploadExpiryMs - 60_000), new Date(now - Math.min(SENT_GRACE_MS, o.unsentTtlMs)), new Date(now - o.unsentTtlMs), chunk],
      );
      const { rows: orphaned } = await tx.query<{ sha256: string }>(
        `SELECT s.sha256 FROM unnest($1::text[]) AS s (sha256) WHERE NOT EXISTS (SELECT 1 FROM media m WHERE m.sha256 = s.sha256)`,
        [[...new Set(rows.map((r) => r.sha256))]],
      );
      const keys = [
        ...rows.filter((r) => r.status === 'pending').map((r) => o.store.uploadKey(r.media_id)),
        ...orphaned.flatMap((r) => [o.store.blobKey(r.sha256), o.store.thumbKey(r.sha256)]),
      ];
      if (keys.length) await o.store.delete(...keys);
      await tx.query('COMMIT');
      res.uploads += rows.length;
      res.objects += orphaned.length;
      if (rows.length < chunk) return res;
    } catch (e) {
      await tx.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      tx.release();
    }
  }
}
