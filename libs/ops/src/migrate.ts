import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

/** The read-model schema: SQL files with `-- Up Migration` / `-- Down Migration` sections. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../postgres/migrations', import.meta.url));

export interface MigrateOptions {
  direction?: 'up' | 'down';
  /** Migrations to run; all pending ones going up, the last one going down. */
  count?: number;
  log?: (line: string) => void;
}

/** Runs the migrations against `databaseUrl`; returns the names of those applied or reverted. */
export async function migrate(databaseUrl: string, opts: MigrateOptions = {}): Promise<string[]> {
  const direction = opts.direction ?? 'up';
  const log = opts.log ?? (() => undefined);
  const ran = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: 'pgmigrations',
    direction,
    count: opts.count ?? (direction === 'up' ? Infinity : 1),
    checkOrder: true,
    singleTransaction: true,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
  });
  return ran.map((m) => m.name);
}
