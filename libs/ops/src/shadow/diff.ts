import type { Pool, PoolClient } from '@chat/postgres';
import { quoteIdent } from './schema';

/**
 * Columns legitimately different between the live read models and a rebuild from the stream.
 * The projections take every value from the events (no now()), so nothing is ignored today; the
 * list is here for columns a future projection fills from the clock.
 */
export const IGNORED_COLUMNS: Readonly<Record<string, readonly string[]>> = {};

/**
 * What a rebuild seeded from the snapshots cannot restore, ignored only when the seed restored
 * such rows: a seeded member's join time (the conversation's creation time; nothing reads it) and
 * the times of watermarks only a snapshot knows (NULL).
 */
export const SEEDED_COLUMNS = {
  members: { conversation_members: ['joined_at'] },
  receipts: { member_receipts: ['delivered_at', 'read_at'] },
} as const;

/** The union of column lists, per table, sorted. */
export function mergeIgnored(...lists: ReadonlyArray<Readonly<Record<string, readonly string[]>>>): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const list of lists) for (const [table, cols] of Object.entries(list)) for (const c of cols) (out[table] ??= new Set()).add(c);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)).map(([t, s]) => [t, [...s].sort()]));
}

export type DiffKind = 'only-live' | 'only-shadow' | 'different';

export interface DiffExample {
  kind: DiffKind;
  /** The row's primary key. */
  key: Record<string, unknown>;
  /** For `different`: each column that differs, with both values (as JSON). */
  columns?: Record<string, { live: unknown; shadow: unknown }>;
}

export interface TableDiff {
  table: string;
  /** Rows in the live table and in the shadow one. */
  live: number;
  shadow: number;
  onlyLive: number;
  onlyShadow: number;
  /** Rows with the same primary key and another value in a compared column. */
  different: number;
  /** Columns left out of the comparison. */
  ignored: string[];
  /** The first few of each kind, by key. */
  examples: DiffExample[];
}

type Queryable = Pool | PoolClient;

/** A table's primary-key columns, in key order. */
export async function primaryKey(q: Queryable, qualifiedTable: string): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = $1::regclass AND i.indisprimary
      ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [qualifiedTable],
  );
  return rows.map((r) => r.name);
}

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * Compares a live table with its shadow twin row by row inside Postgres (a full join on the
 * primary key; rows compared as jsonb without the ignored columns), so neither table is loaded
 * into memory: counts per kind and the first `examples` rows of each. Run it in one snapshot
 * (REPEATABLE READ) to compare both tables as of one moment.
 */
export async function diffTable(
  q: Queryable,
  o: { liveSchema: string; shadowSchema: string; table: string; ignored?: readonly string[]; examples?: number },
): Promise<TableDiff> {
  const live = `${quoteIdent(o.liveSchema)}.${quoteIdent(o.table)}`;
  const shadow = `${quoteIdent(o.shadowSchema)}.${quoteIdent(o.table)}`;
  const key = await primaryKey(q, live);
  if (key.length === 0) throw new Error(`${live} has no primary key: rows cannot be matched`);
  const k0 = quoteIdent(key[0]!);
  const on = key.map((k) => `l.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
  const keyJson = `jsonb_build_object(${key.map((k) => `${literal(k)}, coalesce(l.${quoteIdent(k)}, s.${quoteIdent(k)})`).join(', ')})`;
  const ignored = [...(o.ignored ?? [])];
  const { rows } = await q.query<{ kind: DiffKind; key: Record<string, unknown>; l: Record<string, unknown> | null; s: Record<string, unknown> | null; n: number }>(
    `WITH d AS (
       SELECT CASE WHEN s.${k0} IS NULL THEN 'only-live' WHEN l.${k0} IS NULL THEN 'only-shadow' ELSE 'different' END AS kind,
              ${keyJson} AS key, to_jsonb(l) - $1::text[] AS l, to_jsonb(s) - $1::text[] AS s
         FROM ${live} l FULL JOIN ${shadow} s ON ${on}
     ), x AS (SELECT * FROM d WHERE l IS DISTINCT FROM s)
     SELECT kind, key, l, s, n::int AS n
       FROM (SELECT x.*, count(*) OVER w AS n, row_number() OVER (w ORDER BY key) AS i FROM x WINDOW w AS (PARTITION BY kind)) y
      WHERE i <= $2
      ORDER BY kind, key`,
    [ignored, o.examples ?? 5],
  );
  const counts = await q.query<{ live: number; shadow: number }>(`SELECT (SELECT count(*) FROM ${live})::int AS live, (SELECT count(*) FROM ${shadow})::int AS shadow`);
  const total = (kind: DiffKind) => rows.find((r) => r.kind === kind)?.n ?? 0;
  return {
    table: o.table,
    live: counts.rows[0]!.live,
    shadow: counts.rows[0]!.shadow,
    onlyLive: total('only-live'),
    onlyShadow: total('only-shadow'),
    different: total('different'),
    ignored,
    // jsonb orders keys by length: back to the key's column order.
    examples: rows.map((r) => ({
      kind: r.kind,
      key: Object.fromEntries(key.map((k) => [k, r.key[k]])),
      ...(r.kind === 'different' ? { columns: changedColumns(r.l ?? {}, r.s ?? {}) } : {}),
    })),
  };
}

function changedColumns(live: Record<string, unknown>, shadow: Record<string, unknown>): Record<string, { live: unknown; shadow: unknown }> {
  const out: Record<string, { live: unknown; shadow: unknown }> = {};
  for (const c of [...new Set([...Object.keys(live), ...Object.keys(shadow)])].sort()) {
    if (JSON.stringify(live[c]) !== JSON.stringify(shadow[c])) out[c] = { live: live[c] ?? null, shadow: shadow[c] ?? null };
  }
  return out;
}

export const differencesOf = (tables: readonly TableDiff[]): number => tables.reduce((n, t) => n + t.onlyLive + t.onlyShadow + t.different, 0);
