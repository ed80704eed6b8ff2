import type pg from 'pg';

/**
 * Of `userIds`, whom each blocks (`user_blocks`, the preferences projection's); users who block
 * nobody are left out. One statement: read by the edge (presence) and the notifier (pushes).
 */
export async function blockingAmong(q: pg.Pool | pg.PoolClient, userIds: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (userIds.length === 0) return out;
  const { rows } = await q.query<{ user_id: string; blocked_user_id: string }>({
    name: 'blocking-among',
    text: 'SELECT user_id, blocked_user_id FROM user_blocks WHERE user_id = ANY($1::text[])',
    values: [[...new Set(userIds)]],
  });
  for (const r of rows) (out.get(r.user_id) ?? out.set(r.user_id, new Set()).get(r.user_id)!).add(r.blocked_user_id);
  return out;
}
