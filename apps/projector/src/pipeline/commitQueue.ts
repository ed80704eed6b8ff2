import type { JsMsg } from '@nats-io/jetstream';
import type { StoredEvent, StreamEvent } from '../projection';

/**
 * Events routed live and not yet committed, at most, in units of CHAT_PROJECTOR_BATCH. Counted
 * in events, not batches: under moderate load the linger makes small batches (a dozen events
 * every 5 ms), and a bound of four batches made live routing wait for nearly every commit.
 */
export const MAX_BATCHES_BEHIND = 4;

/** A batch routed live (stage 1), waiting for its transaction (stage 2). */
export interface Routed {
  msgs: JsMsg[];
  events: Array<StoredEvent<StreamEvent>>;
  /** The batch's live publishes, stored by JetStream once settled. */
  delivering: Promise<void> | undefined;
  /** When the batch was read (performance.now()). */
  started: number;
}

/** A commit that failed: its deliveries and why. */
export interface CommitFailure {
  msgs: JsMsg[];
  err: unknown;
}

export interface CommitQueueOptions {
  /** Most events per transaction (CHAT_PROJECTOR_BATCH). */
  batchSize: number;
  /** How long routed batches gather before their transaction, ms (CHAT_PROJECTOR_COMMIT_INTERVAL); 0: none. */
  intervalMs: number;
  /** Whether routed batches may gather now (not while a failure is isolated, nor once stopping or the lock is lost). */
  mayGather(): boolean;
  /** One transaction for `batch` (several routed batches, in order); throws when it fails. */
  commit(batch: Routed): Promise<void>;
}

/**
 * Stage 2 of the projector: routed batches wait here, in order, and one commit at a time takes
 * all of them into one transaction (so under load a transaction holds several read batches).
 * The first failure stops it: what was routed after it is dropped (it is read again from the
 * checkpoint) and the failure is handed over by `settle`.
 */
export class CommitQueue {
  private routed: Routed[] = [];
  /** The latest commit loop; `running` while it has not returned. */
  private committing: Promise<void> = Promise.resolve();
  private running = false;
  /** Ends the wait for more routed batches (a full batch is there, or stopping). */
  private wake: (() => void) | undefined;
  private failure: CommitFailure | undefined;
  /** A reader is waiting for the read models: the next gather does not wait. */
  private hurried = false;

  constructor(private readonly o: CommitQueueOptions) {}

  /** Queues a routed batch and starts committing if no commit runs. */
  push(batch: Routed): void {
    this.routed.push(batch);
    if (this.wake && this.events() >= this.o.batchSize) this.wake();
    if (this.running) return;
    this.running = true;
    this.committing = this.commitRouted();
  }

  /** MAX_BATCHES_BEHIND × CHAT_PROJECTOR_BATCH events wait: live routing should wait for the commits. */
  get behind(): boolean {
    return this.events() >= MAX_BATCHES_BEHIND * this.o.batchSize;
  }

  /** A commit failed and `settle` has not handed it over yet. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Waits for every commit in flight (a failure among them stays for `settle`). */
  async drain(): Promise<void> {
    while (this.running) await this.committing;
  }

  /** Waits for every commit in flight; returns the first failure among them, now handed over. */
  async settle(): Promise<CommitFailure | undefined> {
    await this.drain();
    const f = this.failure;
    this.failure = undefined;
    return f;
  }

  /** Ends a wait for more routed batches. */
  interrupt(): void {
    this.wake?.();
  }

  /**
   * Someone waits for the read models (a `sync` after an ack): commit what is routed now, not
   * at the end of the interval. When nothing is routed, the next batch is committed without
   * gathering (it may be the one the reader waits for).
   */
  hurry(): void {
    this.hurried = true;
    this.wake?.();
  }

  /**
   * Commits until nothing routed is left (or one fails). `running` drops in the same turn as the
   * loop's last check, so a batch pushed at any later moment starts the next loop.
   */
  private async commitRouted(): Promise<void> {
    try {
      while (this.routed.length && !this.failure) {
        await this.gather();
        const batches = this.routed;
        this.routed = [];
        const publishes = batches.map((b) => b.delivering).filter((d): d is Promise<void> => d !== undefined);
        const delivering = publishes.length ? Promise.all(publishes).then(() => undefined) : undefined;
        // Awaited by the transaction before COMMIT; a rejection must not go unhandled if it fails first.
        delivering?.catch(() => undefined);
        const msgs = batches.flatMap((b) => b.msgs);
        try {
          await this.o.commit({ msgs, events: batches.flatMap((b) => b.events), delivering, started: batches[0]!.started });
        } catch (err) {
          this.failure = { msgs, err };
        }
      }
      // Whatever was routed after a failure is read again from the checkpoint.
      if (this.failure) this.routed = [];
    } finally {
      this.running = false;
    }
  }

  /**
   * Lets routed batches gather for up to the commit interval after the oldest one before they
   * are committed together, unless a full batch is waiting or a reader asked for a commit
   * (`hurry`): live delivery has already happened, so at rest this only delays the read models
   * (a `sync` waiting on them asks for the commit instead of waiting for the interval), and it
   * turns one transaction per few events into one per interval.
   */
  private async gather(): Promise<void> {
    if (this.o.intervalMs <= 0) return;
    const due = this.routed[0]!.started + this.o.intervalMs;
    while (!this.hurried && this.o.mayGather() && this.events() < this.o.batchSize) {
      const wait = due - performance.now();
      if (wait <= 0) break;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.wake = undefined;
          resolve();
        };
        const t = setTimeout(done, wait);
        this.wake = done;
      });
    }
    this.hurried = false;
  }

  private events(): number {
    let n = 0;
    for (const b of this.routed) n += b.events.length;
    return n;
  }
}
