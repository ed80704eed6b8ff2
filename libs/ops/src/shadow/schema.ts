import { runner } from 'node-pg-migrate';
import { createPool, SessionLock, type Pool, type PoolClient, type ProjectionKey } from '@chat/postgres';
import { MIGRATIONS_DIR } from '../migrate';

/**
 * The shadow schema: `<live schema>_shadow` in the live database (public_shadow, unless
 * DATABASE_URL sets another search_path), migrated like the live one, so its tables, indexes and
 * constraints carry the live names and can take the live ones' place. Read models are namespaced
 * by database (chat_<ns>), not by schema or table prefix: one shadow per database.
 */

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;
const SUFFIX = '_shadow';

/** The session lock `chatctl rebuild --shadow|--swap|--discard` hold: one of them at a time per database. */
export const SHADOW_LOCK = 'shadow-rebuild';

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** What a finished shadow build recorded (its `shadow_build` row); absent while a build runs or after one failed. */
export interface ShadowInfo {
  ns: string;
  /** The projections asked for: the ones diffed and swapped. */
  projections: ProjectionKey[];
  /** Those and the ones their apply code reads, built with them and kept at the same position. */
  built: ProjectionKey[];
  /** CHAT_EVENTS' creation time: a stream re-created since cannot catch the shadow up. */
  streamCreated: string;
  /** Columns the diff leaves out (IGNORED_COLUMNS, and what only the snapshots could not restore). */
  ignoredColumns: Record<string, string[]>;
  builtAt: string;
}

type Queryable = Pool | PoolClient;

export class ShadowDb {
  private shadowPool: Pool | undefined;

  private constructor(
    readonly databaseUrl: string,
    /** The live database as the apps see it (default search_path). */
    readonly live: Pool,
    readonly liveSchema: string,
    readonly shadowSchema: string,
  ) {}

  static async open(databaseUrl: string): Promise<ShadowDb> {
    const live = createPool(databaseUrl, 3);
    // An idle connection that fails (Postgres restarting) surfaces on the next query, not as an unhandled event.
    live.on('error', () => undefined);
    try {
      const { rows } = await live.query<{ schema: string | null; found: string | null }>(
        "SELECT current_schema() AS schema, to_regclass(format('%I.projection_checkpoints', current_schema()))::text AS found",
      );
      const schema = rows[0]?.schema ?? null;
      if (!schema || !SCHEMA_NAME.test(schema) || schema.length + SUFFIX.length > 63) throw new Error(`unsupported schema for the read models: ${schema ?? '(none)'}`);
      if (!rows[0]?.found) throw new Error(`no read models in schema ${schema} of this database (projection_checkpoints is missing): run chatctl migrate`);
      return new ShadowDb(databaseUrl, live, schema, schema + SUFFIX);
    } catch (e) {
      await live.end();
      throw e;
    }
  }

  /** Connections whose search_path is the shadow schema alone: the projections' unqualified SQL writes there, never to the live tables. */
  get shadow(): Pool {
    if (!this.shadowPool) {
      this.shadowPool = createPool(this.databaseUrl, 2, { search_path: this.shadowSchema });
      this.shadowPool.on('error', () => undefined);
    }
    return this.shadowPool;
  }

  /** `schema.table`, quoted. */
  liveTable(table: string): string {
    return `${quoteIdent(this.liveSchema)}.${quoteIdent(table)}`;
  }

  shadowTable(table: string): string {
    return `${quoteIdent(this.shadowSchema)}.${quoteIdent(table)}`;
  }

  /** Held for the whole operation; refuses when another shadow operation runs on this database. */
  async lock(): Promise<SessionLock> {
    const lock = await SessionLock.tryAcquire(this.live, SHADOW_LOCK);
    if (!lock) throw new Error('another `chatctl rebuild --shadow|--swap|--discard` is running on this database');
    return lock;
  }

  async exists(): Promise<boolean> {
    const { rowCount } = await this.live.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.shadowSchema]);
    return (rowCount ?? 0) > 0;
  }

  /** Drops any earlier shadow, creates the schema and runs every migration into it; refuses when the live schema is at other migrations. */
  async recreate(): Promise<void> {
    await this.drop();
    await this.live.query(`CREATE SCHEMA ${quoteIdent(this.shadowSchema)}`);
    await runner({
      databaseUrl: this.databaseUrl,
      dir: MIGRATIONS_DIR,
      schema: this.shadowSchema,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      count: Infinity,
      checkOrder: true,
      singleTransaction: true,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    const mismatch = await this.migrationMismatch();
    if (mismatch) {
      await this.drop();
      throw new Error(mismatch);
    }
  }

  /** Why the live and shadow schemas cannot stand in for each other (other migrations applied), or null. */
  async migrationMismatch(): Promise<string | null> {
    const names = async (q: Queryable) => (await q.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY name')).rows.map((r) => r.name);
    const live = await names(this.live);
    const shadow = await names(this.shadow);
    const missing = shadow.filter((m) => !live.includes(m));
    const extra = live.filter((m) => !shadow.includes(m));
    if (missing.length) return `the live schema lacks migration(s) ${missing.join(', ')}: run chatctl migrate first`;
    if (extra.length) return `the live schema has migration(s) this version does not know: ${extra.join(', ')}`;
    return null;
  }

  /** The finished build's record, or null (no shadow, or a build that did not finish). */
  async readInfo(): Promise<ShadowInfo | null> {
    const { rows } = await this.live.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [this.shadowTable('shadow_build')]);
    if (!rows[0]?.found) return null;
    const info = await this.live.query<{ info: ShadowInfo }>(`SELECT info FROM ${this.shadowTable('shadow_build')}`);
    return info.rows[0]?.info ?? null;
  }

  async writeInfo(info: ShadowInfo): Promise<void> {
    await this.live.query(`CREATE TABLE ${this.shadowTable('shadow_build')} (info jsonb NOT NULL)`);
    await this.live.query(`INSERT INTO ${this.shadowTable('shadow_build')} (info) VALUES ($1)`, [JSON.stringify(info)]);
  }

  /** Drops the shadow schema with everything in it; false when there was none. */
  async drop(q: Queryable = this.live): Promise<boolean> {
    const existed = await this.exists();
    if (existed) await q.query(`DROP SCHEMA ${quoteIdent(this.shadowSchema)} CASCADE`);
    return existed;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.live.end(), this.shadowPool?.end()]);
  }
}

/** Positions in `projection_checkpoints` of the pool's schema, by name (0 for a name without a row). */
export async function checkpointsOf(q: Queryable, names: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await q.query<{ name: string; position: number }>('SELECT name, position FROM projection_checkpoints WHERE name = ANY($1::text[])', [names]);
  const at = new Map(rows.map((r) => [r.name, r.position]));
  return new Map(names.map((n) => [n, at.get(n) ?? 0]));
}
