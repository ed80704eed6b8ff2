import type { ClientFrame } from '@chat/contracts';

export interface DeliveredAcksDeps {
  connected(): boolean;
  /** Writes a frame; only called while connected. */
  write(frame: ClientFrame): void;
  /** How long acks gather before one `message.delivered` per conversation is written. */
  delayMs: number;
}

/** Delivered watermarks, coalesced per conversation to the highest seq over a short window. */
export class DeliveredAcks {
  /** Highest seq to acknowledge per conversation. */
  private readonly pending = new Map<string, number>();
  private timer?: ReturnType<typeof setTimeout>;

  constructor(private readonly deps: DeliveredAcksDeps) {}

  queue(conversationId: string, seq: number): void {
    if ((this.pending.get(conversationId) ?? 0) >= seq) return;
    this.pending.set(conversationId, seq);
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.deps.delayMs);
  }

  /** Writes what is queued now; offline it stays queued for the next `hello`. */
  flush(): void {
    this.stop();
    if (!this.deps.connected()) return;
    for (const [conversationId, upToSeq] of this.pending) this.deps.write({ type: 'message.delivered', conversationId, upToSeq });
    this.pending.clear();
  }

  /** Cancels the pending flush; what is queued stays. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
