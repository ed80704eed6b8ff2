import type { Logger } from 'pino';
import type { AcquireOptions, SessionLock } from '@chat/postgres';

/** What the loop needs of a held lock (SessionLock). */
export type HeldLock = Pick<SessionLock, 'lost' | 'release'>;

export interface LockLoopOptions {
  log: Logger;
  /** Tries until the writer lock is held; null once `signal` aborted (SessionLock.acquire). */
  acquire(o: AcquireOptions): Promise<HeldLock | null>;
  /** How often a standby instance tries to take over, ms. */
  standbyRetryMs?: number;
  /** The lock held was lost: work in progress must stop before it writes again. */
  onLost(): void;
}

/**
 * The writer lock's lifecycle: acquire (standing by while another instance holds it), run
 * the work while it is held, release, and again, until stopped. The work watches `holding`:
 * once the lock is lost another instance may take over, so it ends and the lock is taken anew.
 */
export class LockLoop {
  private readonly stopSignal = new AbortController();
  private lost = false;
  private wake: (() => void) | undefined;

  constructor(private readonly o: LockLoopOptions) {}

  get stopped(): boolean {
    return this.stopSignal.signal.aborted;
  }

  /** Not stopped, and the lock taken last is still held. */
  get holding(): boolean {
    return !this.stopped && !this.lost;
  }

  /** Runs `whileHeld` each time the lock is taken, until stopped; the lock is released after each run. */
  async run(whileHeld: () => Promise<void>): Promise<void> {
    while (!this.stopped) {
      const lock = await this.o.acquire({
        standbyRetryMs: this.o.standbyRetryMs,
        signal: this.stopSignal.signal,
        onStandby: () => this.o.log.info('another projector is active; standing by'),
        onError: (err) => this.o.log.warn({ err }, 'cannot take the projector lock; retrying'),
      });
      if (!lock) return;
      this.o.log.info('projector lock acquired');
      this.lost = false;
      void lock.lost.then((err) => {
        // Another instance may take over now: stop before writing again.
        this.o.log.warn({ err }, 'projector lock lost; pausing until it is held again');
        this.lost = true;
        this.wake?.();
        this.o.onLost();
      });
      try {
        await whileHeld();
      } finally {
        await lock.release();
      }
    }
  }

  /** Stops taking the lock; `run` ends once the work in hand does. */
  stop(): void {
    this.stopSignal.abort();
    this.wake?.();
  }

  /** Waits `ms`, or less once stopped or the lock is lost. */
  pause(ms: number): Promise<void> {
    if (!this.holding) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
