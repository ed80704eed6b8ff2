import type pg from 'pg';
import type { Names } from '@chat/contracts';
import { inTransaction } from './pool';
import { connectSession, resetProjectionTables, tryLockProjection, unlockProjection } from './projections';
import { writeRebuildSeed, type RebuildSeed, type SeedReport } from './rebuildSeed';

export * from './rebuildSeed';

/**
 * The read models and who owns them: each projection's checkpoint name and tables, in the order
 * the projector applies them within a batch (a later one may read an earlier one's rows).
 */
export const PROJECTION_KEYS = ['messages', 'receipts', 'conversations', 'preferences'] as const;
export type ProjectionKey = (typeof PROJECTION_KEYS)[number];

export const PROJECTION_TABLES: Record<ProjectionKey, readonly string[]> = {
  messages: ['conversations', 'conversation_members', 'messages', 'inbox', 'hidden_messages'],
  receipts: ['member_receipts', 'device_receipts', 'user_devices'],
  conversations: ['user_conversations', 'conversation_senders'],
  preferences: ['notification_mutes', 'user_settings', 'user_blocks'],
};

/** A projection's checkpoint name (`projection_checkpoints.name`). */
export function projectionName(key: ProjectionKey, names: Names): string {
  switch (key) {
    case 'messages':
      return names.consumers.projMessages;
    case 'receipts':
      return names.consumers.projReceipts;
    case 'conversations':
      return names.consumers.projConversations;
    case 'preferences':
      return names.consumers.projPreferences;
    default: {
      const never: never = key;
      throw new Error(`unknown projection ${String(never)}`);
    }
  }
}

/** Parses a list of projection keys ("messages,receipts"). */
export function parseProjectionKeys(list: string): ProjectionKey[] {
  const keys = [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))];
  const bad = keys.filter((k) => !(PROJECTION_KEYS as readonly string[]).includes(k));
  if (bad.length) throw new Error(`unknown projection(s): ${bad.join(', ')} (known: ${PROJECTION_KEYS.join(', ')})`);
  if (keys.length === 0) throw new Error('no projection named');
  return keys as ProjectionKey[];
}

/**
 * Where the post-commit side effects of a projection (the Redis conversation lists, activity
 * frames, coalesced group receipts) have got to: "<projection>.routed" (a projection name never
 * has a dot). Left alone by rebuilds, so re-applying history does not push it live again.
 */
export const sideEffectsCheckpoint = (projectionName: string): string => `${projectionName}.routed`;

/** How far live routing has got; left alone by rebuilds. */
export const LIVE_CHECKPOINT = 'projector.live';

/** The Postgres session lock held by the active projector (rebuilds and resets take it too). */
export const PROJECTOR_LOCK = 'projector';

/** Projections whose checkpoint is past the end of CHAT_EVENTS (`streamLast`): the stream was re-created, and the projector refuses to run. */
export async function projectionsPastEnd(q: pg.Pool | pg.PoolClient, names: Names, streamLast: number): Promise<Array<{ name: string; position: number }>> {
  const { rows } = await q.query<{ name: string; position: number }>(
    'SELECT name, position FROM projection_checkpoints WHERE name = ANY($1::text[]) AND position > $2 ORDER BY name',
    [PROJECTION_KEYS.map((k) => projectionName(k, names)), streamLast],
  );
  return rows;
}

/** The fix for projections past the end of the stream, for messages and /readyz. */
export const PAST_END_FIX =
  'stop the projector, then `npx chatctl projections rebuild` (re-apply what the stream holds) or `npx chatctl projections reset` (start empty with the new stream), and start it again';

async function underProjectorLock(pool: pg.Pool, what: string, fn: () => Promise<void>): Promise<void> {
  const session = await connectSession(pool);
  try {
    if (!(await tryLockProjection(session, PROJECTOR_LOCK))) throw new Error(`a projector is running; stop it before ${what}`);
    try {
      await fn();
    } finally {
      await unlockProjection(session, PROJECTOR_LOCK);
    }
  } finally {
    await session.end();
  }
}

/**
 * Rebuilds projections from the start of CHAT_EVENTS: empties their tables and sets their
 * checkpoints to 0. The projector, when it starts, reads from the lowest checkpoint and
 * re-applies everything the stream holds to them, without routing it live again (live routing
 * and side effects only go past their own positions, which a rebuild leaves alone — clipped to
 * the stream's end `streamLast`, so a position from an older stream cannot silence new events).
 *
 * Refuses while a projector runs (it holds the projector lock): its in-flight batch would land
 * on the emptied tables ahead of the older events.
 *
 * Events older than the stream's max age are gone. With `seed` (the snapshots, see
 * rebuildSeed.ts; `loadRebuildSeed` in @chat/ops reads them, and a function is called under the lock,
 * before the transaction) the emptied tables get what only the snapshots still know —
 * conversations whose creation aged out, their members and list rows, watermarks, mutes —
 * in the same transaction: the rebuild is all or nothing. Without it, a rebuild only restores
 * what the stream still has.
 */
export async function rebuildProjections(
  pool: pg.Pool,
  names: Names,
  keys: readonly ProjectionKey[],
  streamLast: number,
  seed?: RebuildSeed | (() => Promise<RebuildSeed>),
): Promise<SeedReport | null> {
  let report: SeedReport | null = null;
  await underProjectorLock(pool, 'rebuilding', async () => {
    const loaded = typeof seed === 'function' ? await seed() : seed;
    await inTransaction(pool, async (tx) => {
      for (const key of keys) {
        const name = projectionName(key, names);
        await resetProjectionTables(tx, name, PROJECTION_TABLES[key]);
        await tx.query('UPDATE projection_checkpoints SET position = LEAST(position, $2) WHERE name = $1', [sideEffectsCheckpoint(name), streamLast]);
      }
      await tx.query('UPDATE projection_checkpoints SET position = LEAST(position, $2) WHERE name = $1', [LIVE_CHECKPOINT, streamLast]);
      if (loaded) {
        report = await writeRebuildSeed(tx, loaded, {
          messages: keys.includes('messages'),
          receipts: keys.includes('receipts'),
          conversations: keys.includes('conversations'),
          preferences: keys.includes('preferences'),
        });
      }
    });
  });
  return report;
}

/**
 * For a new, empty CHAT_EVENTS under the old name (e.g. a fresh NATS server with an existing
 * database): empties the projections and sets every position to 0, so the projector starts with
 * the new stream. What the read models held is dropped: the stream that produced it is gone.
 * Refuses while a projector runs.
 */
export async function resetProjections(pool: pg.Pool, names: Names, keys: readonly ProjectionKey[]): Promise<void> {
  await underProjectorLock(pool, 'resetting', () =>
    inTransaction(pool, async (tx) => {
      for (const key of keys) {
        const name = projectionName(key, names);
        await resetProjectionTables(tx, name, PROJECTION_TABLES[key]);
        await tx.query('UPDATE projection_checkpoints SET position = 0 WHERE name = $1', [sideEffectsCheckpoint(name)]);
      }
      await tx.query('UPDATE projection_checkpoints SET position = 0 WHERE name = $1', [LIVE_CHECKPOINT]);
    }),
  );
}
