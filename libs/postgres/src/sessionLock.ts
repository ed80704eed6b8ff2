import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { connectSession, tryLockProjection, unlockProjection } from './projections';

export interface AcquireOptions {
  /** Pause between tries while another session holds the lock. */
  standbyRetryMs?: number;
  /** Called once per acquire when another session holds the lock (this one stands by). */
  onStandby?: () => void;
  /** Called when a try failed (Postgres unreachable); tries go on with backoff up to 30 s. */
  onError?: (err: unknown) => void;
  /** Gives up (acquire resolves null). */
  signal?: AbortSignal;
}

const backoff = (failures: number): number => Math.min(30_000, 500 * 2 ** Math.max(0, failures - 1));

/**
 * A Postgres session advisory lock, held on a connection of its own: one active instance of
 * a writer (the command service, a projection), the others standing by. The lock lives as
 * long as that connection, so a holder that dies, even by SIGKILL, hands it over.
 *
 * `lost` settles when the connection fails while held (Postgres restarted, the network cut):
 * from then on another instance may hold it, so the holder must stop writing, and may try to
 * take it again with `acquire`.
 */
export class SessionLock {
  private released = false;

  private constructor(
    private readonly client: pg.Client,
    readonly name: string,
    /** Settles (never rejects) with the reason when the lock was lost; never on release(). */
    readonly lost: Promise<Error>,
  ) {}

  /** Takes the lock if it is free; null when another session holds it. */
  static async tryAcquire(pool: pg.Pool, name: string): Promise<SessionLock | null> {
    const client = await connectSession(pool);
    let lost!: (e: Error) => void;
    const lostP = new Promise<Error>((r) => (lost = r));
    // Listening before anything else: an idle connection's error must not be unhandled.
    client.on('error', (e) => lost(e));
    client.on('end', () => lost(new Error('lock connection ended')));
    let held = false;
    try {
      held = await tryLockProjection(client, name);
    } finally {
      if (!held) await client.end().catch(() => undefined);
    }
    if (!held) return null;
    const lock: SessionLock = new SessionLock(client, name, lostP.then((e) => (lock.released ? new Promise<Error>(() => undefined) : e)));
    return lock;
  }

  /** Tries until the lock is held; null if `signal` aborted first. */
  static async acquire(pool: pg.Pool, name: string, o: AcquireOptions = {}): Promise<SessionLock | null> {
    let failures = 0;
    let announced = false;
    while (!o.signal?.aborted) {
      let wait: number;
      try {
        const lock = await SessionLock.tryAcquire(pool, name);
        if (lock) return lock;
        if (!announced) o.onStandby?.();
        announced = true;
        failures = 0;
        wait = o.standbyRetryMs ?? 2_000;
      } catch (e) {
        failures++;
        o.onError?.(e);
        wait = backoff(failures);
      }
      await sleep(wait, undefined, { signal: o.signal }).catch(() => undefined);
    }
    return null;
  }

  /** Unlocks and closes the connection (if it still works); `lost` does not settle for this. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await unlockProjection(this.client, this.name).catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}
