import type { ReceiptsBody } from '@chat/contracts';

/** How far a member has got in a conversation: the highest seq delivered to one of their devices, and read. */
export interface Mark {
  delivered: number;
  read: number;
}

/** What the sender's own message shows: ◷ pending, ✓ sent (stored), ✓✓ delivered, ✓✓ (blue) read, ! failed. */
export type Tick = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

export interface ReceiptMove {
  userId: string;
  status: 'delivered' | 'read';
  upToSeq: number;
}

/** Moves a member's watermark forward (never back; read implies delivered); true if it moved. */
export function applyReceipt(marks: Map<string, Mark>, r: ReceiptMove): boolean {
  const m = marks.get(r.userId) ?? { delivered: 0, read: 0 };
  const next = r.status === 'read' ? { delivered: Math.max(m.delivered, r.upToSeq), read: Math.max(m.read, r.upToSeq) } : { delivered: Math.max(m.delivered, r.upToSeq), read: m.read };
  if (next.delivered === m.delivered && next.read === m.read && marks.has(r.userId)) return false;
  marks.set(r.userId, next);
  return true;
}

/**
 * The tick of one of the user's own messages: read once every other member read it, delivered
 * once every other member has it on a device, sent once stored. Watermarks make one receipt
 * cover every earlier message.
 */
export function tickOf(m: { seq?: number | undefined; failed?: string | undefined }, others: readonly string[], marks: ReadonlyMap<string, Mark>): Tick {
  if (m.failed !== undefined) return 'failed';
  if (m.seq === undefined) return 'pending';
  if (others.length === 0) return 'sent';
  const seq = m.seq;
  if (others.every((u) => (marks.get(u)?.read ?? 0) >= seq)) return 'read';
  if (others.every((u) => (marks.get(u)?.delivered ?? 0) >= seq)) return 'delivered';
  return 'sent';
}

/** The watermark moves that `GET …/messages/{id}/receipts` of the message at `seq` proves. */
export function movesFromReceipts(seq: number, body: ReceiptsBody): ReceiptMove[] {
  return [
    ...body.read.map((r) => ({ userId: r.userId, status: 'read' as const, upToSeq: seq })),
    ...body.delivered.map((d) => ({ userId: d.userId, status: 'delivered' as const, upToSeq: seq })),
  ];
}

export const TICK_MARK: Record<Tick, { symbol: string; label: string }> = {
  pending: { symbol: '◷', label: 'Sending' },
  sent: { symbol: '✓', label: 'Sent' },
  delivered: { symbol: '✓✓', label: 'Delivered' },
  read: { symbol: '✓✓', label: 'Read' },
  failed: { symbol: '!', label: 'Not sent' },
};
