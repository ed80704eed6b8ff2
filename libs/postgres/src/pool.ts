import pg from 'pg';

// bigint (int8) columns hold stream sequences, which stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * Session settings every connection of the system gets unless the caller says otherwise.
 *
 * `jit=off`: Postgres compiles a statement's expressions with LLVM when its estimated cost passes
 * `jit_above_cost` (100,000 by default, on in Postgres 12 and later). The projector's batch
 * statements (hundreds of rows through `unnest` joins) pass it, and the compilation, redone for
 * every execution, cost more than the statements saved: in a profile at 2,000 msg/s LLVM took a
 * fifth of the projector's Postgres backend (docs/performance.md, "Postgres without JIT"). Every
 * statement here is short, indexed OLTP work, for which JIT never pays.
 */
export const SESSION_DEFAULTS: Readonly<Record<string, string>> = { jit: 'off' };

export function createPool(databaseUrl: string, max = 10, settings: Record<string, string> = {}): pg.Pool {
  // Session settings go in the startup packet (`options`), so every connection has them before
  // its first query.
  const options = Object.entries({ ...SESSION_DEFAULTS, ...settings }).map(([k, v]) => `-c ${k}=${v}`).join(' ');
  // Idle connections stay open (node-postgres closes them after 10 s by default): a process keeps
  // at most `max`, and the bursts that need them most (presence lookups the grace after a wave of
  // closes, a reconnect storm's syncs) come after quiet spells, when a closed pool would first
  // have to connect again. One that dies while idle is reported on the pool's `error` and replaced.
  // Idle connections do not keep a process alive (`allowExitOnIdle`): a tool that is done exits.
  return new pg.Pool({ connectionString: databaseUrl, max, idleTimeoutMillis: 0, allowExitOnIdle: true, application_name: 'chat', options });
}

/**
 * Runs fn in one transaction; rolls back and rethrows on error. While the client is checked
 * out it has an `error` listener: a connection that dies between two statements (a Postgres
 * restart while fn awaits something else) would otherwise emit an unhandled `error` and take
 * the process down. Such a client is destroyed, not returned to the pool.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    if (!broken) await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
