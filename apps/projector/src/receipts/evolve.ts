import { receiptFrame, type EventOf } from '@chat/contracts';
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


/**
 * Pure: a receipt goes to every member's devices (the other members, and the acting
 * member's other devices), never back to the device that sent it, nor to the edge that handed
 * it to its own devices at the append (`handedBy`).
 */
export function receiptRoutes(batch: ReadonlyArray<StoredEvent<ReceiptEvent>>, members: ReadonlyMap<string, readonly string[]>): Route[] {
  return batch.map(({ streamSeq, event: e, handedBy }) => {
    const users = new Set(members.get(e.conversationId) ?? []);
    users.add(e.userId);
    return { streamSeq, frame: receiptFrame(e), users: [...users], exceptDevice: { userId: e.userId, deviceId: e.deviceId }, ...(handedBy ? { skipEdge: handedBy } : {}) };
  });
}

/** A group receipt waiting to be coalesced: pushed to the senders of the messages it covers. */
export interface PendingReceipt {
  conversationId: string;
  userId: string;
  status: 'delivered' | 'read';
  upToSeq: number;
  at: string;
  streamSeq: number;
  /** Senders of the messages in (previous watermark, upToSeq], the reader left out. */
  senders: string[];
}

/**
 * Pure: for each event, the watermark of its status just before it (from the stored rows
 * before the batch, folded in stream order). Keyed by stream sequence. An event that does
 * not move its watermark covers nothing new and is left out.
 */
export function coveredRanges(
  batch: ReadonlyArray<StoredEvent<ReceiptEvent>>,
  before: ReadonlyMap<string, { deliveredSeq: number; readSeq: number }>,
): Map<number, { from: number; to: number }> {
  const cur = new Map<string, { deliveredSeq: number; readSeq: number }>();
  const out = new Map<number, { from: number; to: number }>();
  for (const { streamSeq, event: e } of batch) {
    const k = receiptKey(e.conversationId, e.userId);
    const row = cur.get(k) ?? { ...(before.get(k) ?? { deliveredSeq: 0, readSeq: 0 }) };
    cur.set(k, row);
    const from = e.type === 'MessagesRead' ? row.readSeq : row.deliveredSeq;
    if (e.upToSeq > from) out.set(streamSeq, { from, to: e.upToSeq });
    if (e.upToSeq > row.deliveredSeq) row.deliveredSeq = e.upToSeq;
    if (e.type === 'MessagesRead' && e.upToSeq > row.readSeq) row.readSeq = e.upToSeq;
  }
  return out;
}

/**
 * Pure: one `receipt.batch` route per conversation for a window's pending receipts: each
 * member's highest delivered and read of the window, to the union of the covered senders.
 */
export function coalesceReceipts(pending: readonly PendingReceipt[]): Route[] {
  const byConv = new Map<string, { entries: Map<string, PendingReceipt>; senders: Set<string>; streamSeq: number }>();
  for (const p of pending) {
    const c = byConv.get(p.conversationId) ?? { entries: new Map(), senders: new Set<string>(), streamSeq: 0 };
    byConv.set(p.conversationId, c);
    const k = `${p.userId}\u0000${p.status}`;
    const cur = c.entries.get(k);
    if (!cur || p.upToSeq > cur.upToSeq) c.entries.set(k, p);
    for (const s of p.senders) c.senders.add(s);
    c.streamSeq = Math.max(c.streamSeq, p.streamSeq);
  }
  const routes: Route[] = [];
  for (const [conversationId, c] of byConv) {
    if (c.senders.size === 0) continue;
    routes.push({
      streamSeq: c.streamSeq,
      frame: {
        type: 'receipt.batch',
        conversationId,
        receipts: [...c.entries.values()].map((p) => ({ userId: p.userId, status: p.status, upToSeq: p.upToSeq, at: p.at })),
      },
      users: [...c.senders],
    });
  }
  return routes;
}

/** One device's delivered watermark in one conversation (a device_receipts row). */
export interface DeviceReceiptRow {
  conversationId: string;
  userId: string;
  deviceId: string;
  deliveredSeq: number;
  /** The hour (UTC, `toHour`) of the event that moved the watermark to deliveredSeq. */
  deliveredAt: string;
}

/**
 * An event time to the hour (UTC): what `device_receipts.delivered_at` and `user_devices`'
 * first and last seen keep. They serve the sweeper (max age is days) and counts of devices, so
 * an hour is precise enough, and it keeps the rows' indexed timestamps still between most
 * receipts: a watermark that moves within the hour is a heap-only (HOT) update, a device seen
 * again within the hour no update at all.
 */
export function toHour(at: string): string {
  const ms = Date.parse(at);
  if (!Number.isFinite(ms)) throw new Error(`bad event time ${at}`);
  return new Date(ms - (ms % 3_600_000)).toISOString();
}

/** A device known for a user (a user_devices row), seen between the two event times (to the hour). */
export interface UserDeviceRow {
  userId: string;
  deviceId: string;
  firstSeenAt: string;
  lastSeenAt: string;
}

/**
 * Pure: a batch folded into one delivered watermark per (conversation, member, device) (a read
 * counts as delivered) and one row per device seen, times to the hour (`toHour`). Merged into
 * the stored rows with GREATEST (timestamps move only with the watermark; first/last seen with
 * LEAST/GREATEST), this equals applying the events one by one, however the events are batched.
 */
export function foldDevices(events: readonly ReceiptEvent[]): { receipts: DeviceReceiptRow[]; devices: UserDeviceRow[] } {
  const receipts = new Map<string, DeviceReceiptRow>();
  const devices = new Map<string, UserDeviceRow>();
  for (const e of events) {
    const hour = toHour(e.at);
    const k = `${e.conversationId}\u0000${e.userId}\u0000${e.deviceId}`;
    const cur = receipts.get(k);
    if (!cur || e.upToSeq > cur.deliveredSeq) {
      receipts.set(k, { conversationId: e.conversationId, userId: e.userId, deviceId: e.deviceId, deliveredSeq: e.upToSeq, deliveredAt: hour });
    }
    const dk = `${e.userId}\u0000${e.deviceId}`;
    const d = devices.get(dk);
    if (!d) devices.set(dk, { userId: e.userId, deviceId: e.deviceId, firstSeenAt: hour, lastSeenAt: hour });
    else {
      if (hour < d.firstSeenAt) d.firstSeenAt = hour;
      if (hour > d.lastSeenAt) d.lastSeenAt = hour;
    }
  }
  return { receipts: [...receipts.values()], devices: [...devices.values()] };
}
