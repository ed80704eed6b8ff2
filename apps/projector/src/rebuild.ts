import type { JetStreamManager } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import { connectSession, inTransaction, resetProjectionTables, tryLockProjection, unlockProjection, type Pool } from '@chat/postgres';
import { consumerConfigs, resetConsumer } from '@chat/streams';
import { projectionSpec, type ProjectionKey } from './projections';
import { sideEffectsCheckpoint } from './runner';

export { PROJECTION_KEYS, parseProjectionKeys, type ProjectionKey } from './projections';

/**
 * Rebuilds one projection from the start of CHAT_EVENTS: empties its tables, sets its
 * checkpoint to 0 and re-creates its consumer at sequence 1. A projector started afterwards
 * re-applies everything the stream holds, without routing it live again.
 *
 * Refuses while a projector runs that projection (it holds the projection lock): its
 * in-flight batch would land on the emptied tables ahead of the older events. Stop it (or
 * remove the projection from its CHAT_PROJECTIONS), rebuild, start it again. Events older
 * than the stream's max age are gone, so a rebuild only restores what the stream still has.
 */
export async function rebuildProjection(deps: { pool: Pool; jsm: JetStreamManager; names: Names }, key: ProjectionKey): Promise<void> {
  const { pool, jsm, names } = deps;
  const { name, tables } = projectionSpec(key, names);
  const cfg = consumerConfigs(names).find((c) => c.config.durable_name === name);
  if (!cfg) throw new Error(`no consumer configuration named ${name}`);
  const session = await connectSession(pool);
  try {
    if (!(await tryLockProjection(session, name))) {
      throw new Error(`projection ${key} is running in a projector; stop it before rebuilding`);
    }
    try {
      const streamLast = (await jsm.streams.info(cfg.stream)).state.last_seq;
      await inTransaction(pool, async (tx) => {
        await resetProjectionTables(tx, name, tables);
        // History is not routed live again; but a side-effects position from an older stream
        // (past this stream's end) would silence new events, so it is clipped to the end.
        await tx.query('UPDATE projection_checkpoints SET position = LEAST(position, $2) WHERE name = $1', [sideEffectsCheckpoint(name), streamLast]);
      });
      await resetConsumer(jsm, cfg.stream, cfg.config, 1);
    } finally {
      await unlockProjection(session, name);
    }
  } finally {
    await session.end();
  }
}
