import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool } from '@chat/postgres';
import { createTestNamespace, type TestNamespace } from '@chat/testing';
import { ReadModels } from '../queries';
import { PresenceLookups } from './lookups';

let ns: TestNamespace;
let pool: ReturnType<typeof createPool>;

beforeAll(async () => {
  ns = await createTestNamespace(inject('chatEnv'));
  pool = createPool(ns.databaseUrl, 2);
  // g1: ann, bob, cid; g2: ann, dan; d1: eve, fay. Fay shows her presence to nobody, bob to everyone.
  await pool.query(`INSERT INTO conversations (id, kind, created_by, created_at) VALUES ('g1', 'group', 'ann', now()), ('g2', 'group', 'ann', now()), ('d1', 'direct', 'eve', now())`);
  await pool.query(
    `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
     SELECT c, u, 'member', now() FROM (VALUES ('g1', 'ann'), ('g1', 'bob'), ('g1', 'cid'), ('g2', 'ann'), ('g2', 'dan'), ('d1', 'eve'), ('d1', 'fay')) AS m(c, u)`,
  );
  await pool.query(`INSERT INTO user_settings (user_id, last_seen, stream_seq) VALUES ('fay', 'nobody', 1), ('bob', 'everyone', 2)`);
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await ns?.dispose();
});

describe('PresenceLookups (given the read model of a few conversations, when many subscribes ask at once, then …)', () => {
  it("answers each viewer's contacts among the users it asked about, all viewers of a turn in one statement", async () => {
    const lookups = new PresenceLookups(new ReadModels(pool));
    const [ann, bob, dan, eve, nobody] = await Promise.all([
      lookups.contactsAmong('ann', ['bob', 'cid', 'dan', 'eve', 'ann']),
      // Bob asks only about dan, whom he shares nothing with; ann is a contact he did not ask about.
      lookups.contactsAmong('bob', ['dan']),
      lookups.contactsAmong('dan', ['ann', 'bob']),
      lookups.contactsAmong('eve', ['fay', 'ann']),
      lookups.contactsAmong('zed', ['ann']),
    ]);
    expect([...ann].sort()).toEqual(['ann', 'bob', 'cid', 'dan']);
    expect([...bob]).toEqual([]);
    expect([...dan]).toEqual(['ann']);
    expect([...eve]).toEqual(['fay']);
    expect([...nobody]).toEqual([]);
    expect(lookups.stats.contacts).toEqual({ requests: 5, calls: 1 });
  });

  it('answers who hides their presence among each request’s users, in one statement per turn', async () => {
    const lookups = new PresenceLookups(new ReadModels(pool));
    const [a, b, c] = await Promise.all([lookups.hidingAmong(['fay', 'bob']), lookups.hidingAmong(['bob', 'ann']), lookups.hidingAmong(['fay'])]);
    expect([...a]).toEqual(['fay']);
    expect([...b]).toEqual([]);
    expect([...c]).toEqual(['fay']);
    expect(lookups.stats.hiding).toEqual({ requests: 3, calls: 1 });
  });
});
