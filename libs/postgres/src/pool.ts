import { createHash } from 'node:crypto';
import pg from 'pg';

// bigint (int8) columns hold stream sequences, which stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(databaseUrl: string, max = 10, settings: Record<string, string> = {}): pg.Pool {
  // Session settings go in the startup packet (`options`), so every connection has them before
  // its first query.
  const options = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' ');
  return new pg.Pool({ connectionString: databaseUrl, max, application_name: 'chat', ...(options ? { options } : {}) });
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

/** Statement names given out by `preparing`, by text; bounded so that a statement built per call cannot grow it without end. */
const statementNames = new Map<string, string>();
const MAX_STATEMENT_NAMES = 256;

/** The name `preparing` gives a statement's text (the same text, the same name, in every connection), or undefined past the bound. */
export function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_STATEMENT_NAMES) {
    name = `s${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * The client with every parameterised `query(text, values)` sent as a named (prepared)
 * statement: parsed and planned once per connection, then only bound and run. For the
 * statements a process runs many times a second (the projector's per-batch writes); each
 * connection keeps the plans it prepared for as long as it lives.
 */
export function preparing(client: pg.PoolClient): pg.PoolClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return (text: unknown, values?: unknown, ...rest: unknown[]) => {
        const name = typeof text === 'string' && Array.isArray(values) ? statementName(text) : undefined;
        if (name) return target.query({ name, text: text as string, values: values as unknown[] });
        return (target.query as (...a: unknown[]) => unknown)(text, values, ...rest);
      };
    },
  });
}
