import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import {
  ensureCheckpoint,
  inTransaction,
  PROJECTION_KEYS,
  PROJECTION_TABLES,
  projectionName,
  writeRebuildSeed,
  type Pool,
  type PoolClient,
  type ProjectionKey,
  type RebuildSeed,
  type SeedReport,
} from '@chat/postgres';
import { ConversationListCache, createRedis } from '@chat/redis';
import { loadRebuildSeed } from '../rebuildSeed';
import { differencesOf, diffTable, IGNORED_COLUMNS, mergeIgnored, SEEDED_COLUMNS, type TableDiff } from './diff';
import { checkpointsOf, quoteIdent, ShadowDb, type ShadowInfo } from './schema';

/**
 * Applies CHAT_EVENTS (range.after, range.upTo] to the projections `keys` in `target` (a pool
 * whose search_path is the shadow schema) with the projector's own apply code, and leaves each
 * of their checkpoints at range.upTo. Supplied by the projector (apps/projector shadow/), which
 * owns that code: a library cannot import it.
 */
export type ShadowApplier = (target: Pool, keys: readonly ProjectionKey[], range: { after: number; upTo: number }) => Promise<{ events: number }>;

export interface ShadowDeps {
  databaseUrl: string;
  nats: { js: JetStreamClient; jsm: JetStreamManager };
  names: Names;
  apply: ShadowApplier;
  /** Replica count of the snapshot bucket (CHAT_STREAM_REPLICAS): part of its name. */
  replicas?: number;
  /** For the conversation-list cache after a swap of `conversations`. */
  redisUrl?: string;
}

/**
 * The projections whose tables a projection's apply code reads (receipts and conversations look
 * up members and messages): a shadow builds them alongside, at the same position, so the chosen
 * one reads what it would read live.
 */
export const PROJECTION_INPUTS: Readonly<Record<ProjectionKey, readonly ProjectionKey[]>> = {
  messages: [],
  receipts: ['messages'],
  conversations: ['messages'],
  preferences: [],
};

/** The projections and their inputs, in the projector's order (a later one may read an earlier one's rows). */
export function withInputs(keys: readonly ProjectionKey[]): ProjectionKey[] {
  const all = new Set(keys.flatMap((k) => [k, ...PROJECTION_INPUTS[k]]));
  return PROJECTION_KEYS.filter((k) => all.has(k));
}

export interface BuildReport {
  schema: string;
  projections: ProjectionKey[];
  built: ProjectionKey[];
  /** The shadow's position: the live one (the chosen projections' highest checkpoint) when the build started. */
  position: number;
  events: number;
  seed: { stats: RebuildSeed['stats']; written: SeedReport } | null;
  ignoredColumns: Record<string, string[]>;
}

export interface DiffReport {
  schema: string;
  projections: ProjectionKey[];
  positions: { live: Partial<Record<ProjectionKey, number>>; shadow: number };
  /** Every live checkpoint was at the shadow's position in the snapshot the tables were compared in. */
  consistent: boolean;
  tables: TableDiff[];
  differences: number;
  ignoredColumns: Record<string, string[]>;
}

export interface SwapReport {
  schema: string;
  projections: ProjectionKey[];
  tables: string[];
  /** The swapped projections' checkpoints before the swap… */
  livePositions: Partial<Record<ProjectionKey, number>>;
  /** …and after it: the shadow's position. */
  position: number;
  /** Tries to lock the live tables (another transaction held them, or the wait gave way to a projector batch). */
  lockAttempts: number;
  /** Users whose cached conversation list was invalidated. */
  cacheUsers: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `chatctl rebuild <projections> --shadow`, first half: recreates the shadow schema, writes the
 * rebuild seed (the snapshots, see loadRebuildSeed; `seed: false` rebuilds from the stream
 * alone) and applies CHAT_EVENTS up to the live position (or `upTo`). The live tables, the
 * projector and the durable consumer are not touched.
 */
export async function buildShadow(deps: ShadowDeps, keys: readonly ProjectionKey[] = PROJECTION_KEYS, o: { seed?: boolean; upTo?: number } = {}): Promise<BuildReport> {
  if (keys.length === 0) throw new Error('no projection named');
  const projections = PROJECTION_KEYS.filter((k) => keys.includes(k));
  const built = withInputs(projections);
  const db = await ShadowDb.open(deps.databaseUrl);
  try {
    const lock = await db.lock();
    try {
      const stream = await deps.nats.jsm.streams.info(deps.names.streams.events);
      const position = o.upTo ?? Math.max(0, ...(await checkpointsOf(db.live, projections.map((k) => projectionName(k, deps.names)))).values());
      if (position > stream.state.last_seq) {
        throw new Error(`position ${position} is past the end of ${deps.names.streams.events} (${stream.state.last_seq}): the stream was re-created? see chatctl projections status`);
      }
      const seed = o.seed === false ? null : await loadRebuildSeed(deps.nats, deps.names, { replicas: deps.replicas ?? 1 });
      await db.recreate();
      const written = await inTransaction(db.shadow, async (tx) => {
        for (const k of built) await ensureCheckpoint(tx, projectionName(k, deps.names));
        if (!seed) return null;
        return writeRebuildSeed(tx, seed, Object.fromEntries(PROJECTION_KEYS.map((k) => [k, built.includes(k)])) as Record<ProjectionKey, boolean>);
      });
      // Events before the stream's first are gone: the seed stands in for them.
      const after = seed ? seed.stream.firstSeq - 1 : 0;
      const events = position > after ? (await deps.apply(db.shadow, built, { after, upTo: position })).events : 0;
      const ignoredColumns = mergeIgnored(
        IGNORED_COLUMNS,
        written?.members ? SEEDED_COLUMNS.members : {},
        written?.receipts ? SEEDED_COLUMNS.receipts : {},
      );
      await db.writeInfo({ ns: deps.names.ns, projections, built, streamCreated: stream.created, ignoredColumns, builtAt: new Date().toISOString() });
      return { schema: db.shadowSchema, projections, built, position, events, seed: seed && written ? { stats: seed.stats, written } : null, ignoredColumns };
    } finally {
      await lock.release();
    }
  } finally {
    await db.close();
  }
}

/**
 * `chatctl rebuild --shadow`, second half: catches the shadow up with the live position and
 * compares the chosen projections' tables (default: those the shadow was built for) row by row
 * in one REPEATABLE READ snapshot in which the live checkpoints are at the shadow's position.
 * The projector keeps committing meanwhile, so it tries again until `settleMs` has passed, then
 * compares anyway and says so (`consistent: false`): rows the events in between touched show
 * up as differences.
 */
export async function diffShadow(deps: ShadowDeps, o: { keys?: readonly ProjectionKey[]; examples?: number; settleMs?: number } = {}): Promise<DiffReport> {
  const db = await ShadowDb.open(deps.databaseUrl);
  try {
    const lock = await db.lock();
    try {
      const info = await finishedShadow(db, deps);
      const keys = chosen(o.keys, info);
      const names = keys.map((k) => projectionName(k, deps.names));
      const tables = keys.flatMap((k) => [...PROJECTION_TABLES[k]]);
      const deadline = Date.now() + (o.settleMs ?? 5_000);
      for (;;) {
        const shadowAt = await catchUp(db, deps, info, Math.max(0, ...(await checkpointsOf(db.live, names)).values()));
        const attempt = await inSnapshot(db.live, async (tx): Promise<{ report: DiffReport | null; behind: boolean }> => {
          const live = await checkpointsOf(tx, names);
          const consistent = [...live.values()].every((p) => p === shadowAt);
          if (!consistent && Date.now() < deadline) return { report: null, behind: Math.max(...live.values()) <= shadowAt };
          const diffs: TableDiff[] = [];
          for (const table of tables) {
            diffs.push(await diffTable(tx, { liveSchema: db.liveSchema, shadowSchema: db.shadowSchema, table, ignored: info.ignoredColumns[table] ?? [], examples: o.examples ?? 5 }));
          }
          const done: DiffReport = {
            schema: db.shadowSchema,
            projections: keys,
            positions: { live: Object.fromEntries(keys.map((k, i) => [k, live.get(names[i]!)!])), shadow: shadowAt },
            consistent,
            tables: diffs,
            differences: differencesOf(diffs),
            ignoredColumns: info.ignoredColumns,
          };
          return { report: done, behind: false };
        });
        if (attempt.report) return attempt.report;
        // The live side is behind the shadow: the projector has events in hand.
        if (attempt.behind) await sleep(200);
      }
    } finally {
      await lock.release();
    }
  } finally {
    await db.close();
  }
}

/**
 * `chatctl rebuild <projections> --swap`: the shadow's tables of the chosen projections
 * (default: those it was built for) take the live ones' place in one transaction, with their
 * checkpoints; the rest of the shadow is dropped.
 *
 * The running projector keeps its Postgres session lock (PROJECTOR_LOCK) for as long as it runs,
 * so the swap cannot take it. Instead, its transaction locks the live tables ACCESS EXCLUSIVE
 * and projection_checkpoints EXCLUSIVE before reading the live position: a projector batch in
 * flight commits before (and is in the live position the shadow then catches up to) or waits
 * and commits after, onto the swapped tables — every batch moves every checkpoint, so none
 * commits while the swap holds projection_checkpoints. The shadow catches up to exactly the
 * live checkpoints, so the positions the projector holds (its compare-and-set) stay right and
 * it continues without re-reading anything.
 *
 * Lock order: a batch takes table locks in the order its events need them and
 * projection_checkpoints last, so the swap's waits can deadlock with it. The swap waits at most
 * half of deadlock_timeout for its locks, so it always gives way first (Postgres checks for a
 * deadlock only after deadlock_timeout of waiting): it rolls back and tries again, and the
 * projector never sees a failure.
 */
export async function swapShadow(deps: ShadowDeps, keys?: readonly ProjectionKey[], o: { lockAttempts?: number } = {}): Promise<SwapReport> {
  const db = await ShadowDb.open(deps.databaseUrl);
  let swapped: { report: SwapReport; users: string[] };
  try {
    const lock = await db.lock();
    try {
      const info = await finishedShadow(db, deps);
      const projections = chosen(keys, info);
      const mismatch = await db.migrationMismatch();
      if (mismatch) throw new Error(`${mismatch}; then build the shadow again`);
      const names = projections.map((k) => projectionName(k, deps.names));
      // Most of the catching up before anything is locked, so the locked part has little to apply.
      for (let i = 0; i < 3; i++) {
        const target = Math.max(0, ...(await checkpointsOf(db.live, names)).values());
        if (target <= (await shadowPosition(db, info, deps.names))) break;
        await catchUp(db, deps, info, target);
      }
      swapped = await lockedSwap(db, deps, info, projections, o.lockAttempts ?? 50);
    } finally {
      await lock.release();
    }
  } finally {
    await db.close();
  }
  const { report, users } = swapped;
  if (users.length) {
    if (!deps.redisUrl) throw new Error(`swapped at ${report.position}, but no Redis to invalidate ${users.length} conversation list(s) in: run chatctl cache rebuild`);
    try {
      report.cacheUsers = await invalidateLists(deps.redisUrl, deps.names, users, report.position);
    } catch (e) {
      throw new Error(`swapped at ${report.position}, but the conversation-list cache could not be invalidated (${(e as Error).message}): run chatctl cache rebuild`);
    }
  }
  return report;
}

async function lockedSwap(db: ShadowDb, deps: ShadowDeps, info: ShadowInfo, projections: ProjectionKey[], attempts: number): Promise<{ report: SwapReport; users: string[] }> {
  const tables = projections.flatMap((k) => [...PROJECTION_TABLES[k]]);
  const names = projections.map((k) => projectionName(k, deps.names));
  const { rows } = await db.live.query<{ ms: number }>("SELECT setting::int AS ms FROM pg_settings WHERE name = 'deadlock_timeout'");
  const lockTimeoutMs = Math.max(10, Math.floor((rows[0]?.ms ?? 1000) / 2));
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(db.live, async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = ${lockTimeoutMs}`);
        await tx.query(`LOCK TABLE ${tables.map((t) => db.liveTable(t)).join(', ')} IN ACCESS EXCLUSIVE MODE`);
        await tx.query(`LOCK TABLE ${db.liveTable('projection_checkpoints')} IN EXCLUSIVE MODE`);
        const live = await checkpointsOf(tx, names);
        const position = await catchUp(db, deps, info, Math.max(0, ...live.values()));
        const users = projections.includes('conversations')
          ? (await tx.query<{ user_id: string }>(`SELECT user_id FROM ${db.liveTable('user_conversations')} UNION SELECT user_id FROM ${db.shadowTable('user_conversations')}`)).rows.map((r) => r.user_id)
          : [];
        for (const t of tables) await copyPrivileges(tx, db.liveTable(t), db.shadowTable(t));
        await tx.query(`DROP TABLE ${tables.map((t) => db.liveTable(t)).join(', ')}`);
        for (const t of tables) await tx.query(`ALTER TABLE ${db.shadowTable(t)} SET SCHEMA ${quoteIdent(db.liveSchema)}`);
        await tx.query(
          `INSERT INTO projection_checkpoints (name, position) SELECT unnest($1::text[]), $2
           ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
          [names, position],
        );
        await db.drop(tx);
        return {
          report: {
            schema: db.shadowSchema,
            projections,
            tables,
            livePositions: Object.fromEntries(projections.map((k, i) => [k, live.get(names[i]!)!])),
            position,
            lockAttempts: attempt,
            cacheUsers: 0,
          },
          users,
        };
      });
    } catch (e) {
      // lock_not_available: the lock timeout above.
      if ((e as { code?: string }).code !== '55P03') throw e;
      if (attempt >= attempts) throw new Error(`could not lock the live tables of ${projections.join(', ')} in ${attempts} tries (a long transaction holds them?): try again`);
      await sleep(50 + Math.floor(Math.random() * 200));
    }
  }
}

/** The live table's owner and grants onto its shadow twin, which takes its place. */
async function copyPrivileges(tx: PoolClient, live: string, shadow: string): Promise<void> {
  const { rows } = await tx.query<{ owner: string; shadow_owner: string }>(
    'SELECT pg_get_userbyid(l.relowner) AS owner, pg_get_userbyid(s.relowner) AS shadow_owner FROM pg_class l, pg_class s WHERE l.oid = $1::regclass AND s.oid = $2::regclass',
    [live, shadow],
  );
  const { owner, shadow_owner: shadowOwner } = rows[0]!;
  if (owner !== shadowOwner) await tx.query(`ALTER TABLE ${shadow} OWNER TO ${quoteIdent(owner)}`);
  const grants = await tx.query<{ privilege: string; grantee: string | null; grantable: boolean }>(
    `SELECT a.privilege_type AS privilege, CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee, a.is_grantable AS grantable
       FROM pg_class c, aclexplode(c.relacl) a
      WHERE c.oid = $1::regclass AND a.grantee <> c.relowner`,
    [live],
  );
  for (const g of grants.rows) {
    await tx.query(`GRANT ${g.privilege} ON ${shadow} TO ${g.grantee === null ? 'PUBLIC' : quoteIdent(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''}`);
  }
}

/**
 * Drops the users' cached lists and sets their floor past the swap's position: an edge that read
 * a list from the old tables (at that position) cannot load it into the cache afterwards, and
 * until the projector's next batch lists are answered from Postgres.
 */
async function invalidateLists(redisUrl: string, names: Names, users: readonly string[], position: number): Promise<number> {
  const redis = createRedis(redisUrl, names.redisPrefix);
  try {
    const cache = new ConversationListCache(redis);
    for (let i = 0; i < users.length; i += 1000) await cache.invalidate(users.slice(i, i + 1000), position + 1);
    return users.length;
  } finally {
    await redis.quit().catch(() => undefined);
  }
}

/** `chatctl rebuild --discard`: drops the shadow schema; false when there was none. */
export async function discardShadow(databaseUrl: string): Promise<{ schema: string; dropped: boolean }> {
  const db = await ShadowDb.open(databaseUrl);
  try {
    const lock = await db.lock();
    try {
      return { schema: db.shadowSchema, dropped: await db.drop() };
    } finally {
      await lock.release();
    }
  } finally {
    await db.close();
  }
}

/** The lowest checkpoint of the shadow's projections: where it is. */
async function shadowPosition(db: ShadowDb, info: ShadowInfo, names: Names): Promise<number> {
  return Math.min(...(await checkpointsOf(db.shadow, info.built.map((k) => projectionName(k, names)))).values());
}

/** Applies the events up to `target` to every projection of the shadow; returns its position (at least `target`). */
async function catchUp(db: ShadowDb, deps: ShadowDeps, info: ShadowInfo, target: number): Promise<number> {
  const at = await shadowPosition(db, info, deps.names);
  if (target <= at) return at;
  await deps.apply(db.shadow, info.built, { after: at, upTo: target });
  const now = await shadowPosition(db, info, deps.names);
  if (now < target) throw new Error(`the shadow reached ${now}, not ${target}`);
  return now;
}

/** The finished build this namespace and stream can continue, or a clear refusal. */
async function finishedShadow(db: ShadowDb, deps: ShadowDeps): Promise<ShadowInfo> {
  const info = await db.readInfo();
  if (!info) {
    if (await db.exists()) throw new Error(`the shadow build in schema ${db.shadowSchema} did not finish: run chatctl rebuild [projections...] --shadow again`);
    throw new Error(`no shadow build in schema ${db.shadowSchema}: run chatctl rebuild [projections...] --shadow first`);
  }
  if (info.ns !== deps.names.ns) throw new Error(`the shadow was built for namespace "${info.ns}", not "${deps.names.ns}" (CHAT_NS)`);
  const stream = await deps.nats.jsm.streams.info(deps.names.streams.events);
  if (stream.created !== info.streamCreated) {
    throw new Error(`${deps.names.streams.events} was re-created since the shadow was built: build it again (chatctl rebuild ${info.projections.join(' ')} --shadow)`);
  }
  return info;
}

function chosen(keys: readonly ProjectionKey[] | undefined, info: ShadowInfo): ProjectionKey[] {
  if (!keys?.length) return info.projections;
  const missing = keys.filter((k) => !info.projections.includes(k));
  if (missing.length) {
    throw new Error(`the shadow holds ${info.projections.join(', ')}, not ${missing.join(', ')}: run chatctl rebuild ${[...new Set([...info.projections, ...missing])].join(' ')} --shadow`);
  }
  return PROJECTION_KEYS.filter((k) => keys.includes(k));
}

/** Runs fn in a REPEATABLE READ, read-only transaction: every statement sees one snapshot. */
async function inSnapshot<T>(pool: Pool, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // A failed transaction's connection is not reused (nothing to commit: it only read).
    client.release(failed);
  }
}
