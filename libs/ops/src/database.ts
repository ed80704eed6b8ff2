import pg from 'pg';

const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!DB_NAME.test(name)) throw new Error(`unsupported database name "${name}" (use lowercase letters, digits and _)`);
  return name;
}

async function withAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres'), application_name: 'chatctl' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` unless it exists, connecting to the `postgres` database. */
export async function createDatabase(url: string): Promise<'created' | 'exists'> {
  const name = databaseName(url);
  return withAdmin(url, async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return 'exists';
    try {
      await c.query(`CREATE DATABASE "${name}"`);
    } catch (e) {
      // Another process created it between the check and the create.
      if ((e as { code?: string }).code === '42P04') return 'exists';
      throw e;
    }
    return 'created';
  });
}

/** Drops the database named in `url`, ending its open connections. */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await withAdmin(url, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
