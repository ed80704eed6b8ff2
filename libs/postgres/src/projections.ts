import pg from 'pg';

/**
 * Store helpers for projections: the checkpoint row (`projection_checkpoints`, name = the
 * projection's consumer name, position = last applied CHAT_EVENTS stream sequence) and the
 * advisory lock that keeps one active instance per projection.
 */

type Queryable = pg.Pool | pg.PoolClient;

/** The checkpoint, or null when the projection never ran. */
export async function readCheckpoint(q: Queryable, name: string): Promise<number | null> {
  const { rows } = await q.query<{ position: number }>('SELECT position FROM projection_checkpoints WHERE name = $1', [name]);
  return rows[0]?.position ?? null;
}

/** Creates the checkpoint at 0 if missing; returns the current position. */
export async function ensureCheckpoint(q: Queryable, name: string): Promise<number> {
  await q.query('INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING', [name]);
  return (await readCheckpoint(q, name)) ?? 0;
}

/**
 * Reads the checkpoint inside a transaction and locks its row until commit, so that two
 * writers of the same projection serialise instead of both applying the same events.
 */
export async function lockCheckpoint(tx: pg.PoolClient, name: string): Promise<number> {
  const select = 'SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE';
  let { rows } = await tx.query<{ position: number }>(select, [name]);
  if (rows.length === 0) {
    await tx.query('INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING', [name]);
    ({ rows } = await tx.query<{ position: number }>(select, [name]));
  }
  return rows[0]!.position;
}

export async function writeCheckpoint(tx: pg.PoolClient, name: string, position: number): Promise<void> {
  await tx.query('UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE name = $1', [name, position]);
}

/** Moves a position forward (never back), creating the row if needed. */
export async function advanceCheckpoint(q: Queryable, name: string, position: number): Promise<void> {
  await q.query(
    `INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET position = GREATEST(projection_checkpoints.position, EXCLUDED.position), updated_at = now()`,
    [name, position],
  );
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** Empties a projection's tables and sets its checkpoint to 0, in one transaction. */
export async function resetProjectionTables(tx: pg.PoolClient, name: string, tables: readonly string[]): Promise<void> {
  for (const t of tables) if (!IDENT.test(t)) throw new Error(`invalid table name: ${t}`);
  await lockCheckpoint(tx, name);
  if (tables.length) await tx.query(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')}`);
  await writeCheckpoint(tx, name, 0);
}

/*
 * Session advisory locks live as long as the connection: a projector that dies (even by
 * SIGKILL) loses its connection and with it the lock, so a standby takes over.
 */
const LOCK_CLASS = "hashtext('chat.projection')";

/** A connection of its own (not from the pool), for a lock held as long as the process runs. */
export async function connectSession(pool: pg.Pool): Promise<pg.Client> {
  const client = new pg.Client({ ...pool.options, application_name: 'chat-lock' });
  await client.connect();
  return client;
}

export async function tryLockProjection(client: pg.ClientBase, name: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_CLASS}, hashtext($1)) AS ok`, [name]);
  return rows[0]?.ok === true;
}

export async function unlockProjection(client: pg.ClientBase, name: string): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(${LOCK_CLASS}, hashtext($1))`, [name]);
}
