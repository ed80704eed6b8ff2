import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from './pool';
import { SessionLock } from './sessionLock';

// Advisory locks need no tables (the maintenance database will do), and the lock name is unique
// to this run, so the test touches nothing else.
const url = new URL(process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/chat');
url.pathname = '/postgres';
const pool = createPool(url.toString(), 2);
const name = `test-lock-${randomBytes(4).toString('hex')}`;
afterAll(() => pool.end());

const settled = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);

describe('SessionLock', () => {
  it('is held by one session at a time, settles `lost` when its connection dies, and can be taken again', async () => {
    const first = await SessionLock.tryAcquire(pool, name);
    expect(first).not.toBeNull();
    expect(await SessionLock.tryAcquire(pool, name)).toBeNull();

    // A standby waits, then gets it once the holder's connection is gone (as after a Postgres restart).
    let standby = 0;
    const waiting = SessionLock.acquire(pool, name, { standbyRetryMs: 50, onStandby: () => standby++ });
    await new Promise((r) => setTimeout(r, 200));
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

    // Released on purpose: not "lost", and free for the next one.
    await second!.release();
    expect(await settled(second!.lost, 200)).toBe(false);
    const third = await SessionLock.tryAcquire(pool, name);
    expect(third).not.toBeNull();
    await third!.release();
    await first!.release();
  });

  it('acquire gives up when its signal aborts', async () => {
    const holder = await SessionLock.tryAcquire(pool, `${name}-2`);
    const ac = new AbortController();
    const waiting = SessionLock.acquire(pool, `${name}-2`, { standbyRetryMs: 10_000, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    expect(await waiting).toBeNull();
    await holder!.release();
  });
});
