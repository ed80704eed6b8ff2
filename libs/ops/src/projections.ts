import type { Names } from '@chat/contracts';
import type { Nats } from '@chat/nats';
import { clearConversationCache } from './cache';
import { loadRebuildSeed } from './rebuildSeed';
import {
  createPool,
  LIVE_CHECKPOINT,
  PAST_END_FIX,
  PROJECTION_KEYS,
  projectionName,
  rebuildProjections,
  resetProjections,
  sideEffectsCheckpoint,
  type ProjectionKey,
} from '@chat/postgres';

export interface ProjectionStatus {
  projection: ProjectionKey;
  checkpoint: string;
  position: number | null;
  sideEffects: number | null;
  streamLast: number;
  /** Events of CHAT_EVENTS not yet applied. */
  behind: number;
  state: 'ok' | 'past-end' | 'never-ran';
}

/** Each projection's checkpoint against CHAT_EVENTS: how far behind it is, or whether it is past the stream's end (a re-created stream). */
export async function projectionsStatus(nats: Nats, n: Names, databaseUrl: string): Promise<{ rows: ProjectionStatus[]; live: number | null; fix: string | null }> {
  const streamLast = (await nats.jsm.streams.info(n.streams.events)).state.last_seq;
  const pool = createPool(databaseUrl, 1);
  try {
    const { rows } = await pool.query<{ name: string; position: number }>('SELECT name, position FROM projection_checkpoints');
    const at = new Map(rows.map((r) => [r.name, r.position]));
    const out = PROJECTION_KEYS.map((key): ProjectionStatus => {
      const checkpoint = projectionName(key, n);
      const position = at.get(checkpoint) ?? null;
      return {
        projection: key,
        checkpoint,
        position,
        sideEffects: at.get(sideEffectsCheckpoint(checkpoint)) ?? null,
        streamLast,
        behind: Math.max(0, streamLast - (position ?? 0)),
        state: position === null ? 'never-ran' : position > streamLast ? 'past-end' : 'ok',
      };
    });
    return { rows: out, live: at.get(LIVE_CHECKPOINT) ?? null, fix: out.some((r) => r.state === 'past-end') ? PAST_END_FIX : null };
  } finally {
    await pool.end();
  }
}

/**
 * `chatctl projections rebuild|reset`: see rebuildProjections / resetProjections in @chat/postgres.
 * A rebuild restores from the snapshots (CHAT_SNAPSHOTS) what the stream no longer holds.
 */
export async function fixProjections(
  nats: Nats,
  n: Names,
  databaseUrl: string,
  how: 'rebuild' | 'reset',
  keys: readonly ProjectionKey[] = PROJECTION_KEYS,
  opts: { replicas?: number; redisUrl?: string } = {},
): Promise<void> {
  const pool = createPool(databaseUrl, 2);
  try {
    if (how === 'reset') await resetProjections(pool, n, keys);
    else await rebuildProjections(pool, n, keys, (await nats.jsm.streams.info(n.streams.events)).state.last_seq, () => loadRebuildSeed(nats, n, opts));
    // The Redis lists mirror the tables just emptied or rebuilt: they load again from Postgres.
    if (opts.redisUrl && keys.includes('conversations')) await clearConversationCache({ REDIS_URL: opts.redisUrl, CHAT_NS: n.ns });
  } finally {
    await pool.end();
  }
}
