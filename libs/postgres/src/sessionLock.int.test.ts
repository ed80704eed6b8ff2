import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type pg from 'pg';
import { createPool } from './pool';
import { SessionLock } from './sessionLock';

// Advisory locks need no tables (the run's database will do), and the lock name is unique to
// this run, so the test touches nothing else.
const pool = createPool(inject('chatEnv')['DATABASE_URL']!, 2);
const name = `test-lock-${randomBytes(4).toString('hex')}`;
afterAll(() => pool.end());

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The pool as SessionLock sees it, counting its tries: each one opens a session with the
 * pool's options.
 */
function countingTries(real: pg.Pool): { pool: pg.Pool; tries: () => number } {
  let tries = 0;
  const pool = new Proxy(real, {
    get(target, prop) {
      if (prop === 'options') tries++;
      return Reflect.get(target, prop, target) as unknown;
    },
  });
  return { pool, tries: () => tries };
}

/** Whether `p` has settled by the time every callback queued so far has run. */
const hasSettled = (p: Promise<unknown>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);

describe('SessionLock', () => {
  it('is held by one session at a time, settles `lost` when its connection dies, and can be taken again', async () => {
    const first = await SessionLock.tryAcquire(pool, name);
    expect(first).not.toBeNull();
    expect(await SessionLock.tryAcquire(pool, name)).toBeNull();

    // A standby waits, then gets it once the holder's connection is gone (as after a Postgres restart).
    let standby = 0;
    const counting = countingTries(pool);
    const waiting = SessionLock.acquire(counting.pool, name, { standbyRetryMs: 50, onStandby: () => standby++ });
    // Announced once per acquire, however often it tries.
    await until(() => counting.tries() >= 3, 'the standby to try three times');
    expect(standby).toBe(1);
    const { rows } = await pool.query(
      `SELECT pg_terminate_backend(l.pid) AS ok FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objid::int = hashtext($1) AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [name],
    );
    expect(rows).toEqual([{ ok: true }]);
    expect((await first!.lost).message).toMatch(/terminat|connection/i);
    const second = await waiting;
    expect(second).not.toBeNull();
    expect(standby).toBe(1);

    // Released on purpose: not "lost", and free for the next one. release() resolves once its
    // connection has ended, the event `lost` listens for, so `lost` would have settled by now.
    await second!.release();
    expect(await hasSettled(second!.lost)).toBe(false);
    const third = await SessionLock.tryAcquire(pool, name);
    expect(third).not.toBeNull();
    await third!.release();
    await first!.release();
  });

  it('acquire gives up as soon as its signal aborts, even in the middle of a standby pause', async () => {
    const holder = await SessionLock.tryAcquire(pool, `${name}-2`);
    const ac = new AbortController();
    let stoodBy!: () => void;
    const standingBy = new Promise<void>((r) => (stoodBy = r));
    // A pause longer than the test's timeout: only the abort can end it.
    const waiting = SessionLock.acquire(pool, `${name}-2`, { standbyRetryMs: 120_000, signal: ac.signal, onStandby: () => stoodBy() });
    await standingBy;
    ac.abort();
    expect(await waiting).toBeNull();
    await holder!.release();
  });
});
