import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from './pool';

const url = new URL(process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/chat');
url.pathname = '/postgres';
const plain = createPool(url.toString(), 1);
const tuned = createPool(url.toString(), 2, { synchronous_commit: 'off' });
afterAll(async () => {
  await plain.end();
  await tuned.end();
});

describe('createPool', () => {
  it('gives every connection its session settings before its first query', async () => {
    expect((await plain.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('on');
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
});
