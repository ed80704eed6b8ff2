/**
 * Receipts as the SDK's autoAck sends them (libs/client/src/acks.ts: `DeliveredAcks`), for the
 * load generator: the receiver queues the highest seq received per conversation; the first
 * message after a flush starts one timer (100 ms by default) for the connection, and when it
 * fires one `message.delivered {conversationId, upToSeq}` goes out per conversation with that
 * conversation's highest seq. On top of the SDK, a share of the flushes also sends
 * `message.read` with the same upToSeq (a user reading the conversation): with `readShare`
 * 0.5, every other flush of a conversation.
 *
 * The sender's side: ReceiptTracker maps each of its messages' seq (from `message.sent`) to
 * when it was scheduled, and a delivered receipt covering upToSeq gives send → receipt latency
 * for every message of its own up to there (a read receipt covers too: read implies delivered).
 */

export type ReceiptStatus = 'delivered' | 'read';

export interface ReceiptOptions {
  /** Coalescing window in ms (the SDK's autoAck delayMs, default 100). */
  windowMs?: number;
  /** Share of delivered flushes (per conversation) followed by a read receipt, 0..1 (default 0.5). */
  readShare?: number;
  /** Sends one receipt frame. */
  emit: (conversationId: string, status: ReceiptStatus, upToSeq: number) => void;
}

export class ReceiptCoalescer {
  private readonly pending = new Map<string, number>();
  /** Per conversation: read credit accumulated by readShare per flush; a read goes out at ≥ 1. */
  private readonly readCredit = new Map<string, number>();
  private timer?: ReturnType<typeof setTimeout>;
  private readonly windowMs: number;
  private readonly readShare: number;

  constructor(private readonly opts: ReceiptOptions) {
    this.windowMs = opts.windowMs ?? 100;
    this.readShare = Math.min(1, Math.max(0, opts.readShare ?? 0.5));
  }

  /** A message.new arrived. */
  received(conversationId: string, seq: number): void {
    if ((this.pending.get(conversationId) ?? 0) >= seq) return;
    this.pending.set(conversationId, seq);
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.windowMs);
  }

  /** Sends what is queued now (the timer does this); returns the frames sent. */
  flush(): number {
    clearTimeout(this.timer);
    this.timer = undefined;
    let frames = 0;
    for (const [conversationId, upToSeq] of this.pending) {
      this.opts.emit(conversationId, 'delivered', upToSeq);
      frames++;
      const credit = (this.readCredit.get(conversationId) ?? 0) + this.readShare;
      // (1e-9: five flushes at 0.2 add up to 0.9999999999999999)
      if (credit >= 1 - 1e-9) {
        this.opts.emit(conversationId, 'read', upToSeq);
        frames++;
        this.readCredit.set(conversationId, credit - 1);
      } else this.readCredit.set(conversationId, credit);
    }
    this.pending.clear();
    return frames;
  }

  /** Drops what is queued (connection closing). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

/** The sender's view of one conversation: its messages by seq until a delivered receipt covers them. */
export class ReceiptTracker<T> {
  private readonly open = new Map<number, T>();
  /** Highest upToSeq a delivered receipt has covered so far. */
  private covered = 0;

  /** One of our messages got `seq` (message.sent). If a receipt already covered it (the receipt overtook the answer), it is returned at once. */
  sent(seq: number, tag: T): T | undefined {
    if (seq <= this.covered) return tag;
    this.open.set(seq, tag);
    return undefined;
  }

  /** A delivered (or read) receipt up to `upToSeq`: the messages it newly covers. */
  delivered(upToSeq: number): T[] {
    if (upToSeq <= this.covered) return [];
    this.covered = upToSeq;
    const out: T[] = [];
    for (const [seq, tag] of this.open) {
      if (seq <= upToSeq) {
        out.push(tag);
        this.open.delete(seq);
      }
    }
    return out;
  }

  /** Messages still waiting for a delivered receipt. */
  get waiting(): number {
    return this.open.size;
  }
}
