import type { Names } from '@chat/contracts';
import { readCheckpoint, type PoolClient } from '@chat/postgres';
import { ofType, RetryLater, type Projection } from '../projection';
import type { Route, Router } from '../routing';
import { foldReceipts, receiptRoutes, type ReceiptRow } from './evolve';

export const RECEIPTS_TABLES = ['member_receipts'] as const;

async function upsertReceipts(tx: PoolClient, rows: readonly ReceiptRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO member_receipts AS r (conversation_id, user_id, delivered_seq, delivered_at, read_seq, read_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::timestamptz[])
     ON CONFLICT (conversation_id, user_id) DO UPDATE SET
       delivered_seq = GREATEST(r.delivered_seq, EXCLUDED.delivered_seq),
       delivered_at  = CASE WHEN EXCLUDED.delivered_seq > r.delivered_seq THEN EXCLUDED.delivered_at ELSE r.delivered_at END,
       read_seq      = GREATEST(r.read_seq, EXCLUDED.read_seq),
       read_at       = CASE WHEN EXCLUDED.read_seq > r.read_seq THEN EXCLUDED.read_at ELSE r.read_at END`,
    [
      rows.map((r) => r.conversationId),
      rows.map((r) => r.userId),
      rows.map((r) => r.deliveredSeq),
      rows.map((r) => r.deliveredAt),
      rows.map((r) => r.readSeq),
      rows.map((r) => r.readAt),
    ],
  );
}

/**
 * proj-receipts (chat.evt.rcpt.>): member_receipts watermarks; after commit, routes a receipt
 * frame to the conversation's members.
 *
 * The member list belongs to proj-messages. A receipt whose conversation it has not projected
 * yet waits (the batch is retried) instead of being routed to nobody; once proj-messages is
 * past the receipt's stream sequence, a still unknown conversation does not exist and the
 * receipt goes to the acting member's other devices only.
 */
export function receiptsProjection(names: Names, router: Router | null): Projection<Route[]> {
  return {
    name: names.consumers.projReceipts,
    tables: RECEIPTS_TABLES,
    async apply(tx, events) {
      await upsertReceipts(tx, foldReceipts(ofType(events, 'MessagesDelivered', 'MessagesRead').map((e) => e.event)));
    },
    async plan(tx, batch) {
      if (!router) return [];
      const receipts = ofType(batch, 'MessagesDelivered', 'MessagesRead');
      if (receipts.length === 0) return [];
      const convs = [...new Set(receipts.map((r) => r.event.conversationId))];
      const { rows } = await tx.query<{ conversation_id: string; users: string[] }>(
        `SELECT conversation_id, array_agg(user_id) AS users FROM conversation_members
          WHERE conversation_id = ANY($1::text[]) GROUP BY conversation_id`,
        [convs],
      );
      const members = new Map(rows.map((r) => [r.conversation_id, r.users]));
      const unknown = receipts.filter((r) => !members.has(r.event.conversationId));
      if (unknown.length) {
        const messagesAt = (await readCheckpoint(tx, names.consumers.projMessages)) ?? 0;
        const waiting = unknown.find((r) => r.streamSeq > messagesAt);
        if (waiting) {
          throw new RetryLater(`conversation ${waiting.event.conversationId} not projected yet (proj-messages at ${messagesAt}, receipt at ${waiting.streamSeq})`);
        }
      }
      return receiptRoutes(receipts, members);
    },
    async afterCommit(routes) {
      if (router) await router.route(routes);
    },
  };
}
