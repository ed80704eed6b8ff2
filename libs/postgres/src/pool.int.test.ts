import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPool, preparing, statementName } from './pool';

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

describe('preparing', () => {
  it('sends parameterised statements as named ones, prepared once per connection, and the rest as they are', async () => {
    const client = await plain.connect();
    try {
      const tx = preparing(client);
      const text = 'SELECT $1::int + 1 AS n';
      expect((await tx.query(text, [1])).rows[0].n).toBe(2);
      expect((await tx.query(text, [41])).rows[0].n).toBe(42);
      expect((await tx.query('SELECT 7 AS n')).rows[0].n).toBe(7);
      const prepared = await client.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements');
      // One for the parameterised text (used twice), none for the statement without values.
      expect(prepared.rows).toEqual([{ name: statementName(text), statement: text }]);
    } finally {
      client.release();
    }
  });
});
