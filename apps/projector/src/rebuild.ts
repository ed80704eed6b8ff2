import type { JetStreamManager } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import { connectSession, inTransaction, resetProjectionTables, tryLockProjection, unlockProjection, type Pool } from '@chat/postgres';
import { LIVE_CHECKPOINT, PROJECTOR_LOCK, sideEffectsCheckpoint } from './pipeline/applier';
import { projectionSpec, type ProjectionKey } from './projections';

export { PROJECTION_KEYS, parseProjectionKeys, type ProjectionKey } from './projections';

/**
 * Rebuilds projections from the start of CHAT_EVENTS: empties their tables and sets their
 * checkpoints to 0. The projector, when it starts, reads from the lowest checkpoint and
 * re-applies everything the stream holds to them, without routing it live again (live routing
 * and side effects only go past their own positions, which a rebuild leaves alone — clipped to
 * the stream's end, so a position from an older stream cannot silence new events).
 *
 * Refuses while a projector runs (it holds the projector lock): its in-flight batch would land
 * on the emptied tables ahead of the older events. Stop it, rebuild, start it again. Events
 * older than the stream's max age are gone, so a rebuild only restores what the stream still has.
 */
export async function rebuildProjections(deps: { pool: Pool; jsm: JetStreamManager; names: Names }, keys: readonly ProjectionKey[]): Promise<void> {
  const { pool, jsm, names } = deps;
  const session = await connectSession(pool);
  try {
    if (!(await tryLockProjection(session, PROJECTOR_LOCK))) throw new Error('a projector is running; stop it before rebuilding');
    try {
      const streamLast = (await jsm.streams.info(names.streams.events)).state.last_seq;
      await inTransaction(pool, async (tx) => {
        for (const key of keys) {
          const { name, tables } = projectionSpec(key, names);
          await resetProjectionTables(tx, name, tables);
          await tx.query('UPDATE projection_checkpoints SET position = LEAST(position, $2) WHERE name = $1', [sideEffectsCheckpoint(name), streamLast]);
        }
        await tx.query('UPDATE projection_checkpoints SET position = LEAST(position, $2) WHERE name = $1', [LIVE_CHECKPOINT, streamLast]);
      });
    } finally {
      await unlockProjection(session, PROJECTOR_LOCK);
    }
  } finally {
    await session.end();
  }
}

/**
 * For a new, empty CHAT_EVENTS under the old name (e.g. a fresh NATS server with an existing
 * database): empties every projection and sets every position to 0, so the projector starts
 * with the new stream. What the read models held is dropped: the stream that produced it is
 * gone. Refuses while a projector runs.
 */
export async function resetProjections(deps: { pool: Pool; names: Names }, keys: readonly ProjectionKey[]): Promise<void> {
  const { pool, names } = deps;
  const session = await connectSession(pool);
  try {
    if (!(await tryLockProjection(session, PROJECTOR_LOCK))) throw new Error('a projector is running; stop it before resetting');
    try {
      await inTransaction(pool, async (tx) => {
        for (const key of keys) {
          const { name, tables } = projectionSpec(key, names);
          await resetProjectionTables(tx, name, tables);
          await tx.query('UPDATE projection_checkpoints SET position = 0 WHERE name = $1', [sideEffectsCheckpoint(name)]);
        }
        await tx.query('UPDATE projection_checkpoints SET position = 0 WHERE name = $1', [LIVE_CHECKPOINT]);
      });
    } finally {
      await unlockProjection(session, PROJECTOR_LOCK);
    }
  } finally {
    await session.end();
  }
}
