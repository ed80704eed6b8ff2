import { afterAll, describe, expect, inject, it } from 'vitest';
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
