import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

/**
 * Read after ack for `sync`: a sync that arrives after any client received the `message.sent`
 * of a message must return it. The message's event is in CHAT_EVENTS before that ack, so the
 * stream's last sequence, read after the sync arrived, covers it; the sync then waits, bounded,
 * until the projector's checkpoint reaches that sequence.
 *
 * - `target()`: CHAT_EVENTS' last sequence, read after the call (concurrent syncs share one
 *   STREAM.INFO request; one that arrives while a request is out waits for the next one, since
 *   the one out may have been answered before its acks).
 * - `reach(target)`: resolves once the projector announced (core NATS, after each commit) a
 *   position ≥ target, or after `maxWaitMs`. The caller confirms against the read model itself
 *   (the checkpoint is read with the inbox), so an announcement is only a wake-up. Before it
 *   waits it asks the projector to commit what it has routed now (`commitSubject`, once per
 *   higher target, and again after each announced commit that leaves a waiter short: the
 *   projector may not have routed that far yet when first asked): the projector gathers routed
 *   batches for up to its commit interval, and a sync should not wait for that.
 */
export class ReadAfterAck {
  private position = 0;
  private waiters: Array<{ target: number; resolve: (ok: boolean) => void; timer: NodeJS.Timeout }> = [];
  private sub?: Subscription;
  /** The highest target a commit was asked for. */
  private asked = 0;
  private inFlight: Promise<number> | undefined;
  private next: Promise<number> | undefined;
  readonly stats = { targets: 0, infoRequests: 0, waited: 0, timedOut: 0, commitsAsked: 0 };

  constructor(
    private readonly o: {
      nc: NatsConnection;
      jsm: JetStreamManager;
      stream: string;
      /** Core NATS subject the projector announces its position on. */
      positionSubject: string;
      /** Core NATS subject that asks the projector to commit now. */
      commitSubject: string;
      /** Reads the checkpoint from the read model (used when no announcement says enough). */
      readPosition(): Promise<number>;
      maxWaitMs: number;
    },
  ) {}

  start(): void {
    this.sub = this.o.nc.subscribe(this.o.positionSubject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const p = Number((msg.json() as { position?: unknown }).position);
          // A commit that left a waiter short: the projector had not routed that far when it
          // was asked. Ask again, or the rest would wait for its commit interval.
          if (Number.isFinite(p) && this.advance(p) && this.waiters.length) this.askCommit();
        } catch {
          // not ours
        }
      },
    });
  }

  async stop(): Promise<void> {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters = [];
    await this.sub?.drain().catch(() => undefined);
  }

  /** CHAT_EVENTS' last sequence as of some time after this call. */
  target(): Promise<number> {
    this.stats.targets++;
    if (!this.inFlight) return this.send();
    // One is out: it may have been answered before this caller's acks; share the next one.
    this.next ??= this.inFlight
      .catch(() => 0)
      .then(() => {
        this.next = undefined;
        return this.send();
      });
    return this.next;
  }

  private send(): Promise<number> {
    this.stats.infoRequests++;
    const p = this.o.jsm.streams.info(this.o.stream).then((si) => si.state.last_seq);
    this.inFlight = p;
    const clear = () => {
      if (this.inFlight === p) this.inFlight = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** The checkpoint as the read model itself reported it: it wins over announcements (a Postgres crash can undo recent commits). */
  observe(checkpoint: number): void {
    if (checkpoint < this.position) this.position = checkpoint;
    else this.advance(checkpoint);
  }

  /** True once the projector is known to be at or past `target`; false after maxWaitMs. */
  async reach(target: number): Promise<boolean> {
    if (this.position >= target) return true;
    this.advance(await this.o.readPosition());
    if (this.position >= target) return true;
    this.stats.waited++;
    if (target > this.asked) {
      this.asked = target;
      this.askCommit();
    }
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        this.stats.timedOut++;
        resolve(false);
      }, this.o.maxWaitMs);
      this.waiters.push({ target, resolve, timer });
    });
  }

  /** Moves the known position forward and wakes the waiters it satisfies; false when it did not move. */
  private advance(p: number): boolean {
    if (p <= this.position) return false;
    this.position = p;
    if (this.waiters.length === 0) return true;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.target <= p) {
        clearTimeout(w.timer);
        w.resolve(true);
      } else still.push(w);
    }
    this.waiters = still;
    return true;
  }

  private askCommit(): void {
    this.stats.commitsAsked++;
    this.o.nc.publish(this.o.commitSubject);
  }
}
