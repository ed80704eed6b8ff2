import type { Logger } from 'pino';
import type { Pool } from '@chat/postgres';
import type { ConversationListCache } from '@chat/redis';
import { EXPIRED_PREVIEW } from './conversations/projection';
import { sweepMedia, type MediaSweepOptions } from './mediaSweep';

export interface SweepOptions {
  /** CHAT_MAX_AGE: rows older than this are deleted. */
  maxAgeMs: number;
  /** Rows per statement: one sweep never holds more row locks than this per table at once. */
  chunk?: number;
  /** Clock, for tests. */
  now?: () => Date;
  /** The Redis list cache: a user whose list preview expired is cleared, so the edge reloads it. */
  cache?: ConversationListCache | null;
  /** Media clean-up (uploads and stored objects nothing needs), after the rows: see mediaSweep.ts. */
  media?: Omit<MediaSweepOptions, 'now' | 'chunk'> | null;
}

export interface SweepResult {
  messages: number;
  inbox: number;
  hidden: number;
  senders: number;
  previews: number;
  deviceReceipts: number;
  devices: number;
  mediaUploads: number;
  mediaObjects: number;
}

/** The default sweep interval: min(1 minute, max age / 10), at least 100 ms. */
export const sweepIntervalMs = (maxAgeMs: number, configured?: number): number => configured ?? Math.max(100, Math.min(60_000, Math.floor(maxAgeMs / 10)));

const DEFAULT_CHUNK = 500;

/**
 * Deletes what is older than the max age from the read models, in chunks (each chunk its own
 * short statement, rows picked by primary key with FOR UPDATE SKIP LOCKED), until nothing is
 * left. Idempotent: a second sweep finds nothing.
 *
 * - a message sent before the cutoff, and with it every row pointing at it: its inbox entries
 *   (message, edit, delete, hide), hidden_messages, conversation_senders;
 * - a conversation list's last-message preview sent before the cutoff: replaced by
 *   EXPIRED_PREVIEW with `expired: true` (the row itself stays: the conversation is not gone);
 * - device watermarks that have not moved since the cutoff, and devices not seen since.
 *
 * - with `media`: uploads and stored objects nothing needs any more (mediaSweep.ts).
 *
 * member_receipts, conversations, members and list rows are not time-bound and stay.
 */
export async function sweep(pool: Pool, opts: SweepOptions): Promise<SweepResult> {
  const cutoff = new Date((opts.now?.() ?? new Date()).getTime() - opts.maxAgeMs);
  const chunk = opts.chunk ?? DEFAULT_CHUNK;
  const res: SweepResult = { messages: 0, inbox: 0, hidden: 0, senders: 0, previews: 0, deviceReceipts: 0, devices: 0, mediaUploads: 0, mediaObjects: 0 };

  for (;;) {
    const { rows } = await pool.query<{ messages: string; inbox: string; hidden: string; senders: string }>(
      `WITH pick AS (
         SELECT conversation_id, seq FROM messages WHERE sent_at < $1 ORDER BY sent_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), gone AS (
         DELETE FROM messages m USING pick WHERE m.conversation_id = pick.conversation_id AND m.seq = pick.seq
         RETURNING m.conversation_id, m.seq
       ), i AS (
         DELETE FROM inbox x USING gone WHERE x.conversation_id = gone.conversation_id AND x.seq = gone.seq RETURNING 1
       ), h AS (
         DELETE FROM hidden_messages x USING gone WHERE x.conversation_id = gone.conversation_id AND x.seq = gone.seq RETURNING 1
       ), s AS (
         DELETE FROM conversation_senders x USING gone WHERE x.conversation_id = gone.conversation_id AND x.seq = gone.seq RETURNING 1
       )
       SELECT (SELECT count(*) FROM gone) AS messages, (SELECT count(*) FROM i) AS inbox,
              (SELECT count(*) FROM h) AS hidden, (SELECT count(*) FROM s) AS senders`,
      [cutoff, chunk],
    );
    const r = rows[0]!;
    res.messages += Number(r.messages);
    res.inbox += Number(r.inbox);
    res.hidden += Number(r.hidden);
    res.senders += Number(r.senders);
    if (Number(r.messages) < chunk) break;
  }

  const users = new Set<string>();
  for (;;) {
    const { rows } = await pool.query<{ user_id: string }>(
      `WITH pick AS (
         SELECT user_id, conversation_id FROM user_conversations
          WHERE last_activity_at < $1 AND last_message IS NOT NULL
            AND (last_message->>'sentAt')::timestamptz < $1
            AND NOT coalesce((last_message->>'expired')::bool, false)
            AND NOT coalesce((last_message->>'deleted')::bool, false)
          LIMIT $2 FOR UPDATE SKIP LOCKED
       )
       UPDATE user_conversations uc SET last_message = uc.last_message || jsonb_build_object('preview', $3::text, 'expired', true)
         FROM pick WHERE uc.user_id = pick.user_id AND uc.conversation_id = pick.conversation_id
       RETURNING uc.user_id`,
      [cutoff, chunk, EXPIRED_PREVIEW],
    );
    for (const r of rows) users.add(r.user_id);
    res.previews += rows.length;
    if (rows.length < chunk) break;
  }
  // The rows changed without a new version: drop those users' Redis lists so the edge reloads them.
  if (opts.cache) for (const u of users) await opts.cache.clear(u);

  res.deviceReceipts = await deleteChunked(
    pool,
    `DELETE FROM device_receipts d USING (
       SELECT conversation_id, user_id, device_id FROM device_receipts WHERE delivered_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED) p
      WHERE d.conversation_id = p.conversation_id AND d.user_id = p.user_id AND d.device_id = p.device_id`,
    cutoff,
    chunk,
  );
  res.devices = await deleteChunked(
    pool,
    `DELETE FROM user_devices d USING (
       SELECT user_id, device_id FROM user_devices WHERE last_seen_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED) p
      WHERE d.user_id = p.user_id AND d.device_id = p.device_id`,
    cutoff,
    chunk,
  );
  if (opts.media) {
    // After the messages: media that only expired messages carried goes in the same sweep.
    const m = await sweepMedia(pool, { ...opts.media, chunk, ...(opts.now ? { now: opts.now } : {}) });
    res.mediaUploads = m.uploads;
    res.mediaObjects = m.objects;
  }
  return res;
}

async function deleteChunked(pool: Pool, sql: string, cutoff: Date, chunk: number): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await pool.query(sql, [cutoff, chunk]);
    total += r.rowCount ?? 0;
    if ((r.rowCount ?? 0) < chunk) return total;
  }
}

/** Runs sweep() every `intervalMs` (first run right away); a failed sweep is logged and retried next time. */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  readonly stats = { sweeps: 0, failures: 0, last: null as SweepResult | null };

  constructor(
    private readonly pool: Pool,
    private readonly opts: SweepOptions & { intervalMs: number; log?: Logger },
  ) {}

  start(): void {
    this.stopped = false;
    this.tick();
  }

  private tick(): void {
    this.running = this.once().finally(() => {
      if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.opts.intervalMs);
    });
  }

  /** One sweep now; never throws. */
  async once(): Promise<void> {
    try {
      const r = await sweep(this.pool, this.opts);
      this.stats.sweeps++;
      this.stats.last = r;
      if (Object.values(r).some((n) => n > 0)) this.opts.log?.info(r, 'expired rows swept');
    } catch (err) {
      this.stats.failures++;
      this.opts.log?.warn({ err }, 'sweep failed; retrying at the next interval');
    }
  }

  /** Waits for a sweep in progress, then stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.timer) clearTimeout(this.timer);
  }
}
