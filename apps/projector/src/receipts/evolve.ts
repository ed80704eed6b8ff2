import type { EventOf, Receipt } from '@chat/contracts';
import type { StoredEvent } from '../projection';
import type { Route } from '../routing';

export type ReceiptEvent = EventOf<'MessagesDelivered'> | EventOf<'MessagesRead'>;

/** One member's watermarks in one conversation (a member_receipts row). */
export interface ReceiptRow {
  conversationId: string;
  userId: string;
  deliveredSeq: number;
  deliveredAt: string | null;
  readSeq: number;
  readAt: string | null;
}

/**
 * Watermarks only move forward; read implies delivered. A timestamp changes only when its
 * watermark moves, so it says when the member reached the current watermark.
 */
export function evolveReceipt(row: ReceiptRow | null, e: ReceiptEvent): ReceiptRow {
  const r: ReceiptRow = row ?? { conversationId: e.conversationId, userId: e.userId, deliveredSeq: 0, deliveredAt: null, readSeq: 0, readAt: null };
  const next = { ...r };
  if (e.upToSeq > r.deliveredSeq) {
    next.deliveredSeq = e.upToSeq;
    next.deliveredAt = e.at;
  }
  if (e.type === 'MessagesRead' && e.upToSeq > r.readSeq) {
    next.readSeq = e.upToSeq;
    next.readAt = e.at;
  }
  return next;
}

export const receiptKey = (conversationId: string, userId: string): string => `${conversationId}\u0000${userId}`;

/**
 * Folds a batch into one row per (conversation, member), starting from nothing. Merging the
 * result into the stored row with GREATEST (and moving a timestamp only when its watermark
 * grows) gives the same row as applying the events one by one.
 */
export function foldReceipts(events: readonly ReceiptEvent[]): ReceiptRow[] {
  const rows = new Map<string, ReceiptRow>();
  for (const e of events) {
    const k = receiptKey(e.conversationId, e.userId);
    rows.set(k, evolveReceipt(rows.get(k) ?? null, e));
  }
  return [...rows.values()];
}

export function receiptFrame(e: ReceiptEvent): Receipt {
  return {
    type: 'receipt',
    conversationId: e.conversationId,
    userId: e.userId,
    status: e.type === 'MessagesRead' ? 'read' : 'delivered',
    upToSeq: e.upToSeq,
    at: e.at,
  };
}

/**
 * Pure: a receipt goes to every member's devices (the other members, and the acting
 * member's other devices), never back to the device that sent it.
 */
export function receiptRoutes(batch: ReadonlyArray<StoredEvent<ReceiptEvent>>, members: ReadonlyMap<string, readonly string[]>): Route[] {
  return batch.map(({ streamSeq, event: e }) => {
    const users = new Set(members.get(e.conversationId) ?? []);
    users.add(e.userId);
    return { streamSeq, frame: receiptFrame(e), users: [...users], exceptDevice: { userId: e.userId, deviceId: e.deviceId } };
  });
}
