import type pg from 'pg';

/** `user_blocks` rows as a map from each row's `key` column to the set of its `value` column. */
async function blockPairs(q: pg.Pool | pg.PoolClient, name: string, text: string, userIds: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (userIds.length === 0) return out;
  const { rows } = await q.query<{ key: string; value: string }>({ name, text, values: [[...new Set(userIds)]] });
  for (const r of rows) (out.get(r.key) ?? out.set(r.key, new Set()).get(r.key)!).add(r.value);
  return out;
}

/**
 * Of `userIds`, whom each blocks (`user_blocks`, the preferences projection's); users who block
 * nobody are left out. One statement: read by the edge (presence, typing) and the notifier (pushes).
 */
export function blockingAmong(q: pg.Pool | pg.PoolClient, userIds: readonly string[]): Promise<Map<string, Set<string>>> {
  return blockPairs(q, 'blocking-among', 'SELECT user_id AS key, blocked_user_id AS value FROM user_blocks WHERE user_id = ANY($1::text[])', userIds);
}

/** Of `userIds`, who blocks each (users nobody blocks left out). One statement: the edge's send check. */
export function blockedByAmong(q: pg.Pool | pg.PoolClient, userIds: readonly string[]): Promise<Map<string, Set<string>>> {
  return blockPairs(q, 'blocked-by-among', 'SELECT blocked_user_id AS key, user_id AS value FROM user_blocks WHERE blocked_user_id = ANY($1::text[])', userIds);
}
