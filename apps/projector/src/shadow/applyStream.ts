import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { readEvent, readPreferenceEvent, type Names } from '@chat/contracts';
import { readEvents, type ShadowApplier } from '@chat/ops';
import { advanceCheckpoint, type Pool } from '@chat/postgres';
import { applyBatch, type AnyProjection } from '../pipeline/applier';
import type { StoredEvent, StreamEvent } from '../projection';
import { buildProjection } from '../projections';
import type { Retention } from '../receipts/projection';

/** An event could not be read or applied: where, and why. */
export class ApplyFailed extends Error {
  override readonly name = 'ApplyFailed';
}

export interface ApplyRange {
  /** The events after this stream sequence… */
  after: number;
  /** …up to this one. */
  upTo: number;
}

/**
 * Applies CHAT_EVENTS (after, upTo] to `projections` in `pool` the way the projector does: the
 * projector's subjects, in stream order, through `applyBatch` (one transaction per batch with
 * the checkpoints). Reads with an ordered consumer: the projector's durable is not touched.
 * Every checkpoint ends at `upTo`. With `after` > 0 the events after it must still be in the
 * stream: a gap (aged out, max age) is refused rather than skipped.
 */
export async function applyStream(
  nats: { js: JetStreamClient; jsm: JetStreamManager },
  names: Names,
  pool: Pool,
  projections: readonly AnyProjection[],
  range: ApplyRange,
  o: { batchSize?: number } = {},
): Promise<{ events: number }> {
  if (range.upTo <= range.after) return { events: 0 };
  const { state } = await nats.jsm.streams.info(names.streams.events);
  if (range.upTo > state.last_seq) throw new ApplyFailed(`${names.streams.events} ends at ${state.last_seq}, before ${range.upTo}`);
  const firstKept = state.messages > 0 ? state.first_seq : state.last_seq + 1;
  if (range.after > 0 && firstKept > range.after + 1) {
    throw new ApplyFailed(`${names.streams.events} no longer holds events ${range.after + 1}..${firstKept - 1} (older than its max age): build the shadow again`);
  }
  const prefPrefix = names.subjects.prefAll.slice(0, -1);
  const batchSize = o.batchSize ?? 500;
  let batch: Array<StoredEvent<StreamEvent>> = [];
  let events = 0;
  const flush = async () => {
    if (!batch.length) return;
    try {
      await applyBatch(pool, projections, batch);
    } catch (e) {
      throw new ApplyFailed(`applying events ${batch[0]!.streamSeq}..${batch[batch.length - 1]!.streamSeq} failed: ${(e as Error).message}`, { cause: e });
    }
    events += batch.length;
    batch = [];
  };
  // The projector's subjects are the whole stream: the replay every tool uses, bounded here.
  for await (const m of readEvents(nats.js, names, { fromSeq: range.after + 1 })) {
    if (m.seq > range.upTo) break;
    let event: StreamEvent;
    try {
      event = m.subject.startsWith(prefPrefix) ? readPreferenceEvent(m.event) : readEvent(m.event);
    } catch (e) {
      throw new ApplyFailed(`event ${m.seq} (${m.subject}) cannot be read: ${(e as Error).message}`, { cause: e });
    }
    batch.push({ streamSeq: m.seq, event });
    if (batch.length >= batchSize) await flush();
    if (m.seq >= range.upTo) break;
  }
  await flush();
  // The stream has nothing else up to `upTo` for these projections (deleted messages, say).
  for (const p of projections) await advanceCheckpoint(pool, p.name, range.upTo);
  return { events };
}

/**
 * The shadow rebuild's applier (ShadowApplier of @chat/ops): the projections as the projector
 * builds them, without live routing or the Redis cache (a shadow has no readers), with the
 * projector's retention (CHAT_RETENTION).
 */
export function projectorApplier(nats: { js: JetStreamClient; jsm: JetStreamManager }, names: Names, o: { retention?: Retention } = {}): ShadowApplier {
  return (pool, keys, range) =>
    applyStream(
      nats,
      names,
      pool,
      keys.map((k) => buildProjection(k, names, null, { cache: null, retention: o.retention ?? 'history' })),
      range,
    );
}
