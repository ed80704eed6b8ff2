import type { ChatEvent, MemberPreferenceEvent } from '@chat/contracts';
import { inTransaction, LIVE_CHECKPOINT, sideEffectsCheckpoint, type Pool, type PoolClient } from '@chat/postgres';
import type { Projection, StoredEvent, StreamEvent } from '../projection';

export { LIVE_CHECKPOINT, PROJECTOR_LOCK, sideEffectsCheckpoint } from '@chat/postgres';

export class OutOfOrder extends Error {
  override readonly name = 'OutOfOrder';
}

// The projector runs projections of different event types side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjection = Projection<any, any>;

export interface Positions {
  /** Checkpoint per projection: last stream sequence applied. */
  checkpoints: Map<string, number>;
  /** Side-effects position per projection. */
  sideEffects: Map<string, number>;
}

export interface AppliedBatch {
  /** Events past the lowest checkpoint: applied by at least one projection in this transaction. */
  applied: number;
  /** The batch's last stream sequence: every projection's checkpoint after the batch. */
  last: number;
  /** Plans for the post-commit side effects, per projection (only those with `plan`). */
  plans: Map<AnyProjection, unknown>;
  /** Positions before the batch (read under lock in the transaction). */
  before: Positions;
}

export interface ApplyOptions {
  /**
   * Settles before COMMIT (the live routing of this batch): a batch whose frames could not be
   * published does not commit, so a committed event has always been routed.
   */
  beforeCommit?: Promise<unknown>;
  /** Side-effects positions to record now (the previous batch's, done since its commit). */
  sideEffectsDone?: ReadonlyMap<string, number>;
  /** This batch was routed live up to here (LIVE_CHECKPOINT). */
  liveRouted?: number;
}

const isPreference = (e: StoredEvent<StreamEvent>): e is StoredEvent<MemberPreferenceEvent> => e.event.type === 'MemberMuteChanged';

/** The events a projection reads, from a batch of both kinds. */
export function eventsFor(p: AnyProjection, batch: readonly StoredEvent<StreamEvent>[]): StoredEvent<StreamEvent>[] {
  const preferences = p.reads === 'preferences';
  return batch.filter((e) => isPreference(e) === preferences);
}

/** Checkpoints and side-effects positions of the projections, locked until the transaction ends; missing rows are created at 0. */
export async function lockPositions(tx: PoolClient, projections: readonly AnyProjection[]): Promise<Positions> {
  const names = projections.flatMap((p) => [p.name, sideEffectsCheckpoint(p.name)]);
  const select = 'SELECT name, position FROM projection_checkpoints WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE';
  let { rows } = await tx.query<{ name: string; position: number }>(select, [names]);
  if (rows.length < names.length) {
    await tx.query('INSERT INTO projection_checkpoints (name, position) SELECT unnest($1::text[]), 0 ON CONFLICT (name) DO NOTHING', [names]);
    ({ rows } = await tx.query<{ name: string; position: number }>(select, [names]));
  }
  const at = new Map(rows.map((r) => [r.name, r.position]));
  return {
    checkpoints: new Map(projections.map((p) => [p.name, at.get(p.name) ?? 0])),
    sideEffects: new Map(projections.map((p) => [p.name, at.get(sideEffectsCheckpoint(p.name)) ?? 0])),
  };
}

async function writePositions(tx: PoolClient, positions: ReadonlyMap<string, number>): Promise<void> {
  if (positions.size === 0) return;
  await tx.query(
    `UPDATE projection_checkpoints c SET position = GREATEST(c.position, t.position), updated_at = now()
       FROM unnest($1::text[], $2::bigint[]) AS t (name, position) WHERE c.name = t.name`,
    [[...positions.keys()], [...positions.values()]],
  );
}

/**
 * One transaction for a batch and every projection: lock the positions, apply to each
 * projection the events past its checkpoint and move the checkpoint to the batch's end, plan
 * the side effects of the events past its side-effects position, record the side effects done
 * since the last batch. A redelivered event is at or below the checkpoint and is never
 * applied twice.
 */
export async function applyBatch(pool: Pool, projections: readonly AnyProjection[], batch: readonly StoredEvent<StreamEvent>[], o: ApplyOptions = {}): Promise<AppliedBatch> {
  for (let i = 1; i < batch.length; i++) {
    if (batch[i]!.streamSeq <= batch[i - 1]!.streamSeq) throw new OutOfOrder(`stream seq ${batch[i]!.streamSeq} after ${batch[i - 1]!.streamSeq}`);
  }
  const last = batch[batch.length - 1]?.streamSeq ?? 0;
  return inTransaction(pool, async (tx) => {
    const before = await lockPositions(tx, projections);
    const plans = new Map<AnyProjection, unknown>();
    const lowest = Math.min(...before.checkpoints.values());
    const applied = batch.filter((e) => e.streamSeq > lowest).length;
    for (const p of projections) {
      const position = before.checkpoints.get(p.name)!;
      const mine = eventsFor(p, batch);
      const fresh = mine.filter((e) => e.streamSeq > position);
      if (fresh.length) await p.apply(tx, fresh as StoredEvent<ChatEvent>[]);
      // Written right away: a later projection of the same batch may read it (expired previews wait for receipts).
      if (last > position) await writePositions(tx, new Map([[p.name, last]]));
      if (p.plan) {
        const done = before.sideEffects.get(p.name)!;
        plans.set(p, await p.plan(tx, mine.filter((e) => e.streamSeq > done)));
      }
    }
    const marks = new Map([...(o.sideEffectsDone ?? [])].map(([name, seq]) => [sideEffectsCheckpoint(name), seq]));
    if (o.liveRouted) marks.set(LIVE_CHECKPOINT, o.liveRouted);
    await writePositions(tx, marks);
    if (o.beforeCommit) await o.beforeCommit;
    return { applied, last, plans, before };
  });
}
