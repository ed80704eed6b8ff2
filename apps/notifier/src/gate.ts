/** Where the projections the notifier reads are: the lowest of their checkpoints (stream seqs). */
export type PositionReader = () => Promise<number>;

export interface GateClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: GateClock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/**
 * Holds an event until the read models the notifier reads (membership from proj-messages,
 * unread counts from proj-conversations) have applied it, so a push names the right people
 * and carries the right badge. One position read serves every waiter (at most one per
 * `pollMs`); a waiter spends no redeliveries, and calls `heartbeat` (msg.working()) so its
 * ack wait does not run out. After `maxWaitMs` it gives up and the caller goes on with what the
 * read models hold (a projector down for that long: better a late, slightly stale push than
 * none).
 */
export class ProjectionGate {
  private closed = false;
  private position = 0;
  private readAt = -Infinity;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly read: PositionReader,
    private readonly o: { pollMs?: number; clock?: GateClock } = {},
  ) {}

  /** True once the projections reached `seq`; false if `maxWaitMs` passed first. */
  async reached(seq: number, w: { maxWaitMs: number; heartbeat?: () => void; heartbeatMs?: number }): Promise<boolean> {
    const clock = this.o.clock ?? realClock;
    const pollMs = this.o.pollMs ?? 200;
    const start = clock.now();
    let beat = start;
    for (;;) {
      if (this.position >= seq) return true;
      if (this.closed) return false;
      await this.refresh(clock, pollMs);
      if (this.position >= seq) return true;
      const now = clock.now();
      if (now - start >= w.maxWaitMs) return false;
      if (w.heartbeat && now - beat >= (w.heartbeatMs ?? 10_000)) {
        w.heartbeat();
        beat = now;
      }
      await clock.sleep(pollMs);
    }
  }

  /** Ends every wait at once (shutdown): waiters get false at their next poll. */
  close(): void {
    this.closed = true;
  }

  /** The position, read again if older than `pollMs`; a failed read keeps the last one. */
  private refresh(clock: GateClock, pollMs: number): Promise<void> {
    if (clock.now() - this.readAt < pollMs) return Promise.resolve();
    this.reading ??= this.read()
      .then((p) => {
        this.position = Math.max(this.position, p);
      })
      .catch(() => undefined)
      .finally(() => {
        this.readAt = clock.now();
        this.reading = undefined;
      });
    return this.reading;
  }
}
