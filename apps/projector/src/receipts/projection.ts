import type { Logger } from 'pino';
import { LIMITS, receiptFrame, type Names } from '@chat/contracts';
import { PROJECTION_TABLES, type PoolClient } from '@chat/postgres';
import { ofType, RetryLater, type Projection, type StoredEvent } from '../projection';
import type { Router } from '../routing';
import { ReceiptCoalescer } from './coalesce';
import {
  coveredRanges,
  foldDevices,
  foldReceipts,
  receiptKey,
  type PendingReceipt,
  type ReceiptEvent,
  type ReceiptRow,
} from './evolve';

export const RECEIPTS_TABLES = PROJECTION_TABLES.receipts;

export type Retention = 'history' | 'ephemeral';

/**
 * Ephemeral retention: nulls the body of every text message of these conversations that every
 * recipient device has acknowledged. A recipient is a member other than the sender who sees
 * the message (joined_after_seq < seq); their devices are user_devices (every device that ever
 * acknowledged anything); a recipient with no known device has acknowledged nothing. Marks
 * `expunged_at` (the event time) and `expunged_stream_seq` (the receipt that completed it).
 * Monotonic (a body once nulled stays null), so applying it again is a no-op.
 */
export const EXPUNGE_ACKNOWLEDGED = `
  WITH t AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS t (conversation_id, stream_seq, at)),
  w AS (
    SELECT cm.conversation_id, cm.user_id, cm.joined_after_seq,
           CASE WHEN count(ud.device_id) = 0 THEN 0 ELSE min(coalesce(dr.delivered_seq, 0)) END AS low
      FROM t
      JOIN conversation_members cm ON cm.conversation_id = t.conversation_id
      LEFT JOIN user_devices ud ON ud.user_id = cm.user_id
      LEFT JOIN device_receipts dr ON dr.conversation_id = cm.conversation_id AND dr.user_id = ud.user_id AND dr.device_id = ud.device_id
     GROUP BY cm.conversation_id, cm.user_id, cm.joined_after_seq
  )
  UPDATE messages m SET body = NULL, expunged_at = t.at, expunged_stream_seq = t.stream_seq
    FROM t
   WHERE m.conversation_id = t.conversation_id AND m.kind = 'text' AND m.body IS NOT NULL
     AND m.seq <= (SELECT max(w.low) FROM w WHERE w.conversation_id = t.conversation_id)
     AND NOT EXISTS (SELECT 1 FROM w WHERE w.conversation_id = m.conversation_id AND w.user_id <> m.sender_id
                        AND w.joined_after_seq < m.seq AND w.low < m.seq)
  RETURNING m.conversation_id, m.seq`;

/** Runs EXPUNGE_ACKNOWLEDGED for the conversations of a batch (each with its last receipt). */
export async function expungeAcknowledged(
  tx: PoolClient,
  receipts: ReadonlyArray<StoredEvent<ReceiptEvent>>,
): Promise<Array<{ conversation_id: string; seq: number }>> {
  const last = new Map<string, StoredEvent<ReceiptEvent>>();
  for (const r of receipts) last.set(r.event.conversationId, r);
  if (last.size === 0) return [];
  const items = [...last.values()];
  const { rows } = await tx.query<{ conversation_id: string; seq: number }>(EXPUNGE_ACKNOWLEDGED, [
    items.map((r) => r.event.conversationId),
    items.map((r) => r.streamSeq),
    items.map((r) => r.event.at),
  ]);
  return rows;
}

/**
 * The batch's watermark moves in one statement: members' (member_receipts), devices'
 * (device_receipts: a read counts as delivered) and the devices seen (user_devices), each
 * merged into the stored row with GREATEST (a timestamp moves only with its watermark), so the
 * result equals applying the events one by one. A row the batch does not move is not written
 * (no new row version); a device row whose watermark moves within the hour keeps its indexed
 * `delivered_at` (`toHour`), so Postgres updates it in place (HOT) without new index entries.
 */
async function upsertWatermarks(tx: PoolClient, rows: readonly ReceiptRow[], devices: ReturnType<typeof foldDevices>): Promise<void> {
  if (rows.length === 0) return;
  const d = devices.receipts;
  const u = devices.devices;
  await tx.query(
    `WITH m AS (
       INSERT INTO member_receipts AS r (conversation_id, user_id, delivered_seq, delivered_at, read_seq, read_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::timestamptz[])
       ON CONFLICT (conversation_id, user_id) DO UPDATE SET
         delivered_seq = GREATEST(r.delivered_seq, EXCLUDED.delivered_seq),
         delivered_at  = CASE WHEN EXCLUDED.delivered_seq > r.delivered_seq THEN EXCLUDED.delivered_at ELSE r.delivered_at END,
         read_seq      = GREATEST(r.read_seq, EXCLUDED.read_seq),
         read_at       = CASE WHEN EXCLUDED.read_seq > r.read_seq THEN EXCLUDED.read_at ELSE r.read_at END
       WHERE EXCLUDED.delivered_seq > r.delivered_seq OR EXCLUDED.read_seq > r.read_seq
     ), dr AS (
       INSERT INTO device_receipts AS r (conversation_id, user_id, device_id, delivered_seq, delivered_at)
       SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::int[], $11::timestamptz[])
       ON CONFLICT (conversation_id, user_id, device_id) DO UPDATE SET
         delivered_seq = EXCLUDED.delivered_seq,
         delivered_at  = EXCLUDED.delivered_at
       WHERE EXCLUDED.delivered_seq > r.delivered_seq
     )
     INSERT INTO user_devices AS d (user_id, device_id, first_seen_at, last_seen_at)
     SELECT * FROM unnest($12::text[], $13::text[], $14::timestamptz[], $15::timestamptz[])
     ON CONFLICT (user_id, device_id) DO UPDATE SET
       first_seen_at = LEAST(d.first_seen_at, EXCLUDED.first_seen_at),
       last_seen_at  = GREATEST(d.last_seen_at, EXCLUDED.last_seen_at)
     WHERE EXCLUDED.first_seen_at < d.first_seen_at OR EXCLUDED.last_seen_at > d.last_seen_at`,
    [
      rows.map((r) => r.conversationId),
      rows.map((r) => r.userId),
      rows.map((r) => r.deliveredSeq),
      rows.map((r) => r.deliveredAt),
      rows.map((r) => r.readSeq),
      rows.map((r) => r.readAt),
      d.map((r) => r.conversationId),
      d.map((r) => r.userId),
      d.map((r) => r.deviceId),
      d.map((r) => r.deliveredSeq),
      d.map((r) => r.deliveredAt),
      u.map((x) => x.userId),
      u.map((x) => x.deviceId),
      u.map((x) => x.firstSeenAt),
      u.map((x) => x.lastSeenAt),
    ],
  );
}

export interface ReceiptsPlan {
  /** Group receipts for the coalescer. */
  coalesce: PendingReceipt[];
}

/** How far back a redelivered receipt (its previous watermark is gone) looks for senders. */
const REDELIVERED_LOOKBACK = 100;

/**
 * proj-receipts (chat.evt.rcpt.>): member_receipts watermarks (and device watermarks, and the
 * ephemeral expunge). Direct receipts and a group reader's own devices are routed live by the
 * projector before commit (LiveRouter); after commit, group receipts are buffered for
 * LIMITS.receiptCoalesceMs and pushed as one `receipt.batch` per conversation to the senders of
 * the messages they cover (see ReceiptCoalescer): finding those senders needs the messages
 * table, so it happens here, off the delivery path.
 */
export function receiptsProjection(
  names: Names,
  router: Router | null,
  opts: { coalesceMs?: number; log?: Logger; retention?: Retention } = {},
): Projection<ReceiptsPlan> & { coalescer: ReceiptCoalescer | null } {
  const ephemeral = opts.retention === 'ephemeral';
  const coalescer = router ? new ReceiptCoalescer(router, opts.coalesceMs ?? LIMITS.receiptCoalesceMs, opts.log) : null;
  // Covered ranges of the events apply() just wrote, for plan() in the same transaction.
  let ranges = new Map<number, { from: number; to: number }>();
  return {
    name: names.consumers.projReceipts,
    tables: RECEIPTS_TABLES,
    coalescer,
    async apply(tx, events) {
      const receipts = ofType(events, 'MessagesDelivered', 'MessagesRead');
      if (ephemeral && receipts.length) {
        // Exact expunging needs every message a receipt covers projected. The command service
        // clamps upToSeq to the conversation's last seq, so proj-messages gets there.
        const want = new Map<string, number>();
        for (const r of receipts) want.set(r.event.conversationId, Math.max(want.get(r.event.conversationId) ?? 0, r.event.upToSeq));
        const { rows } = await tx.query<{ conversation_id: string; last_seq: number | null }>(
          `SELECT t.conversation_id, c.last_seq FROM unnest($1::text[]) AS t (conversation_id)
             LEFT JOIN conversations c ON c.id = t.conversation_id`,
          [[...want.keys()]],
        );
        const behind = rows.find((r) => (r.last_seq ?? 0) < want.get(r.conversation_id)!);
        if (behind) throw new RetryLater(`ephemeral expunge waits for proj-messages (${behind.conversation_id} at ${behind.last_seq ?? 'unknown'}, receipts up to ${want.get(behind.conversation_id)})`);
      }
      if (coalescer && receipts.length) {
        const keys = [...new Map(receipts.map((r) => [receiptKey(r.event.conversationId, r.event.userId), r.event])).values()];
        const { rows } = await tx.query<{ conversation_id: string; user_id: string; delivered_seq: number; read_seq: number }>(
          `SELECT r.conversation_id, r.user_id, r.delivered_seq, r.read_seq FROM member_receipts r
             JOIN unnest($1::text[], $2::text[]) AS t (conversation_id, user_id) ON r.conversation_id = t.conversation_id AND r.user_id = t.user_id`,
          [keys.map((k) => k.conversationId), keys.map((k) => k.userId)],
        );
        const before = new Map(rows.map((r) => [receiptKey(r.conversation_id, r.user_id), { deliveredSeq: r.delivered_seq, readSeq: r.read_seq }]));
        ranges = coveredRanges(receipts, before);
      }
      await upsertWatermarks(tx, foldReceipts(receipts.map((e) => e.event)), foldDevices(receipts.map((e) => e.event)));
      if (ephemeral) await expungeAcknowledged(tx, receipts);
    },
    async plan(tx, batch) {
      const applied = ranges;
      ranges = new Map();
      if (!coalescer) return { coalesce: [] };
      const receipts = ofType(batch, 'MessagesDelivered', 'MessagesRead');
      if (receipts.length === 0) return { coalesce: [] };
      const { rows } = await tx.query<{ id: string }>("SELECT id FROM conversations WHERE id = ANY($1::text[]) AND kind = 'group'", [
        [...new Set(receipts.map((r) => r.event.conversationId))],
      ]);
      const groups = new Set(rows.map((r) => r.id));
      const group = receipts.filter((r) => groups.has(r.event.conversationId));
      const covering = group.flatMap((r) => {
        const range = applied.get(r.streamSeq) ?? (applied.size ? undefined : { from: Math.max(0, r.event.upToSeq - REDELIVERED_LOOKBACK), to: r.event.upToSeq });
        return range ? [{ r, range }] : [];
      });
      const senders = new Map<number, string[]>();
      if (covering.length) {
        const res = await tx.query<{ stream_seq: number; sender_id: string }>(
          `SELECT DISTINCT t.stream_seq, m.sender_id
             FROM unnest($1::text[], $2::int[], $3::int[], $4::bigint[], $5::text[]) AS t (conversation_id, lo, hi, stream_seq, reader)
             JOIN messages m ON m.conversation_id = t.conversation_id AND m.seq > t.lo AND m.seq <= t.hi
            WHERE m.kind = 'text' AND m.sender_id <> t.reader`,
          [
            covering.map((c) => c.r.event.conversationId),
            covering.map((c) => c.range.from),
            covering.map((c) => c.range.to),
            covering.map((c) => c.r.streamSeq),
            covering.map((c) => c.r.event.userId),
          ],
        );
        for (const row of res.rows) (senders.get(row.stream_seq) ?? senders.set(row.stream_seq, []).get(row.stream_seq)!).push(row.sender_id);
      }
      const coalesce: PendingReceipt[] = covering.flatMap(({ r }) => {
        const s = senders.get(r.streamSeq);
        if (!s?.length) return [];
        const f = receiptFrame(r.event);
        return [{ conversationId: f.conversationId, userId: f.userId, status: f.status, upToSeq: f.upToSeq, at: f.at, streamSeq: r.streamSeq, senders: s }];
      });
      return { coalesce };
    },
    async afterCommit(plan) {
      // After commit: a crash from here on loses only live frames, never a watermark.
      coalescer?.add(plan.coalesce);
    },
    async close() {
      await coalescer?.flush();
    },
  };
}
