import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { createPool } from './pool';

// The run's database (libs/testing's global setup): session settings need no tables.
const url = inject('chatEnv')['DATABASE_URL']!;
const plain = createPool(url, 1);
const tuned = createPool(url, 2, { synchronous_commit: 'off' });
afterAll(async () => {
  await plain.end();
  await tuned.end();
});

describe('createPool', () => {
  it('gives every connection its session settings before its first query', async () => {
    expect((await plain.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('on');
    // JIT is off on every connection (the server's default is on); a caller's settings keep it.
    expect((await plain.query('SHOW jit')).rows[0].jit).toBe('off');
    expect((await tuned.query('SHOW jit')).rows[0].jit).toBe('off');
    // Two connections at once: both have it, from the first statement on.
    const [a, b] = await Promise.all([tuned.connect(), tuned.connect()]);
    try {
      expect((await a.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('off');
      expect((await b.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('off');
    } finally {
      a.release();
      b.release();
    }
  });

  it('keeps an idle connection open past node-postgres’ default idle timeout (10 s)', async () => {
    const pid = async () => (await plain.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // Only the timers are faked (the idle timeout would be a setTimeout started when the query
    // releases its connection); the connection's I/O is real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let before: number;
    try {
      before = await pid();
      expect(plain.idleCount).toBe(1);
      vi.advanceTimersByTime(60_000);
    } finally {
      vi.useRealTimers();
    }
    expect(plain.idleCount).toBe(1);
    expect(await pid()).toBe(before);
  });

  it('lets a process that is done exit although its pool still holds an idle connection', async () => {
    const script = [
      `import { createPool } from ${JSON.stringify(fileURLToPath(new URL('./pool.ts', import.meta.url)))};`,
      `const pool = createPool(${JSON.stringify(url)}, 1);`,
      `await pool.query('SELECT 1');`,
      `console.log('queried', pool.idleCount);`,
    ].join('\n');
    // Without allowExitOnIdle the child would wait on its idle connection for ever (or, with
    // node-postgres' default idle timeout, 10 s): killed after 8 s, it fails.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 8_000 });
    expect(stdout.trim()).toBe('queried 1');
  }, 30_000);
});
