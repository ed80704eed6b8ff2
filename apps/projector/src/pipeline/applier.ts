import { isUserSettingsEvent, type ChatEvent, type MemberPreferenceEvent } from '@chat/contracts';
import { advanceCheckpoint, inTransaction, LIVE_CHECKPOINT, sideEffectsCheckpoint, type Pool, type PoolClient } from '@chat/postgres';
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
  /** How far live routing has got (LIVE_CHECKPOINT). */
  live: number;
}

/** Another writer moved a position since this one read it (a projector that lost its lock): nothing of the batch commits. */
export class PositionsMoved extends Error {
  override readonly name = 'PositionsMoved';
}

export interface AppliedBatch {
  /** Events past the lowest checkpoint: applied by at least one projection in this transaction. */
  applied: number;
  /** The batch's last stream sequence: every projection's checkpoint after the batch. */
  last: number;
  /** Plans for the post-commit side effects, per projection (only those with `plan`). */
  plans: Map<AnyProjection, unknown>;
  /** Positions before the batch. */
  before: Positions;
  /** Positions after it, as committed. */
  after: Positions;
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
  /**
   * The positions as the caller last committed them (the projector keeps them): they are then
   * not read again, and the one UPDATE that moves them compares each with what it expects (a
   * compare-and-set: a concurrent writer fails the batch). Without them they are read, locked.
   */
  positions?: Positions;
}

export const isPreference = (e: StoredEvent<StreamEvent>): e is StoredEvent<MemberPreferenceEvent> => e.event.type === 'MemberMuteChanged' || isUserSettingsEvent(e.event);

/** The events a projection reads, from a batch of both kinds. */
export function eventsFor(p: AnyProjection, batch: readonly StoredEvent<StreamEvent>[]): StoredEvent<StreamEvent>[] {
  const preferences = p.reads === 'preferences';
  return batch.filter((e) => isPreference(e) === preferences);
}

/** Checkpoints and side-effects positions of the projections (and the live position), locked until the transaction ends; missing rows are created at 0. */
export async function lockPositions(tx: PoolClient | Pool, projections: readonly AnyProjection[], lock = true): Promise<Positions> {
  const names = [...projections.flatMap((p) => [p.name, sideEffectsCheckpoint(p.name)]), LIVE_CHECKPOINT];
  const select = `SELECT name, position FROM projection_checkpoints WHERE name = ANY($1::text[]) ORDER BY name${lock ? ' FOR UPDATE' : ''}`;
  let { rows } = await tx.query<{ name: string; position: number }>(select, [names]);
  if (rows.length < names.length) {
    await tx.query('INSERT INTO projection_checkpoints (name, position) SELECT unnest($1::text[]), 0 ON CONFLICT (name) DO NOTHING', [names]);
    ({ rows } = await tx.query<{ name: string; position: number }>(select, [names]));
  }
  const at = new Map(rows.map((r) => [r.name, r.position]));
  return {
    checkpoints: new Map(projections.map((p) => [p.name, at.get(p.name) ?? 0])),
    sideEffects: new Map(projections.map((p) => [p.name, at.get(sideEffectsCheckpoint(p.name)) ?? 0])),
    live: at.get(LIVE_CHECKPOINT) ?? 0,
  };
}

/** Where reading resumes after `positions` were read, against the stream's last sequence. */
export interface ResumePoint {
  /** The lowest checkpoint. */
  checkpoint: number;
  /** The first sequence to read: right after the lowest checkpoint and side-effects position. */
  start: number;
  /** Checkpoints past the end of the stream (a new stream under the old name): nothing may be read. */
  ahead: Array<{ name: string; at: number }>;
}

export function resumePoint(positions: Positions, projections: readonly AnyProjection[], streamLast: number): ResumePoint {
  const checkpoints = [...positions.checkpoints].map(([name, at]) => ({ name, at }));
  const marks = projections.filter((p) => p.plan).map((p) => positions.sideEffects.get(p.name) ?? 0);
  const checkpoint = Math.min(...checkpoints.map((c) => c.at));
  return { checkpoint, start: Math.min(checkpoint, ...marks) + 1, ahead: checkpoints.filter((c) => c.at > streamLast) };
}

/** Moves every projection's checkpoint and side-effects position onto `seq`, the next event, which is thereby skipped. */
export async function skipEvent(pool: Pool, projections: readonly AnyProjection[], seq: number): Promise<void> {
  for (const p of projections) {
    await advanceCheckpoint(pool, p.name, seq);
    if (p.plan) await advanceCheckpoint(pool, sideEffectsCheckpoint(p.name), seq);
  }
}

/** Moves positions in one statement, each only from the value expected (compare-and-set). */
async function movePositions(tx: PoolClient, moves: ReadonlyArray<{ name: string; from: number; to: number }>): Promise<void> {
  if (moves.length === 0) return;
  const res = await tx.query(
    `UPDATE projection_checkpoints c SET position = t.to_position, updated_at = now()
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t (name, from_position, to_position)
      WHERE c.name = t.name AND c.position = t.from_position`,
    [moves.map((m) => m.name), moves.map((m) => m.from), moves.map((m) => m.to)],
  );
  if (res.rowCount !== moves.length) throw new PositionsMoved(`${moves.length - (res.rowCount ?? 0)} of ${moves.length} positions were moved by another writer`);
}

/**
 * One transaction for a batch and every projection: apply to each projection the events past
 * its checkpoint, plan the side effects of the events past its side-effects position, then one
 * statement moves every checkpoint to the batch's end and records the side effects done since
 * the last batch and the live routing (compare-and-set against the positions held). A
 * redelivered event is at or below the checkpoint and is never applied twice.
 */
export async function applyBatch(pool: Pool, projections: readonly AnyProjection[], batch: readonly StoredEvent<StreamEvent>[], o: ApplyOptions = {}): Promise<AppliedBatch> {
  for (let i = 1; i < batch.length; i++) {
    if (batch[i]!.streamSeq <= batch[i - 1]!.streamSeq) throw new OutOfOrder(`stream seq ${batch[i]!.streamSeq} after ${batch[i - 1]!.streamSeq}`);
  }
  const last = batch[batch.length - 1]?.streamSeq ?? 0;
  return inTransaction(pool, async (tx) => {
    const before = o.positions ?? (await lockPositions(tx, projections));
    const plans = new Map<AnyProjection, unknown>();
    const lowest = Math.min(...before.checkpoints.values());
    const applied = batch.filter((e) => e.streamSeq > lowest).length;
    const moves: Array<{ name: string; from: number; to: number }> = [];
    const after: Positions = { checkpoints: new Map(before.checkpoints), sideEffects: new Map(before.sideEffects), live: before.live };
    for (const p of projections) {
      const position = before.checkpoints.get(p.name)!;
      const mine = eventsFor(p, batch);
      const fresh = mine.filter((e) => e.streamSeq > position);
      if (fresh.length) await p.apply(tx, fresh as StoredEvent<ChatEvent>[]);
      if (last > position) {
        moves.push({ name: p.name, from: position, to: last });
        after.checkpoints.set(p.name, last);
      }
      if (p.plan) {
        const done = before.sideEffects.get(p.name)!;
        plans.set(p, await p.plan(tx, mine.filter((e) => e.streamSeq > done)));
      }
    }
    for (const [name, seq] of o.sideEffectsDone ?? []) {
      const from = before.sideEffects.get(name) ?? 0;
      if (seq <= from) continue;
      moves.push({ name: sideEffectsCheckpoint(name), from, to: seq });
      after.sideEffects.set(name, seq);
    }
    if (o.liveRouted && o.liveRouted > before.live) {
      moves.push({ name: LIVE_CHECKPOINT, from: before.live, to: o.liveRouted });
      after.live = o.liveRouted;
    }
    await movePositions(tx, moves);
    if (o.beforeCommit) await o.beforeCommit;
    return { applied, last, plans, before, after };
  });
}
