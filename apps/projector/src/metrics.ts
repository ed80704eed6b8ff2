import type { JetStreamManager } from '@nats-io/jetstream';
import type { Pool } from 'pg';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { counterFrom, gaugeFrom } from '@chat/app';
import type { Projector } from './pipeline/projector';
import type { Router } from './routing';

/**
 * The projector's metrics. Counters the projector keeps anyway (stats) are read at scrape time;
 * checkpoint lag is measured at scrape time too: the stream's last sequence minus each
 * projection's checkpoint (events), and the age of the oldest event not yet applied (seconds;
 * 0 when caught up).
 */
export function registerProjectorMetrics(registry: Registry, o: { projector: Projector; router?: Router; pool: Pool; jsm: JetStreamManager; stream: string }): void {
  const { projector } = o;
  const fromStats = (name: string, help: string, read: () => number) => counterFrom(registry, name, help, read);
  fromStats('chat_projector_events_applied_total', 'Events applied to the read models', () => projector.stats.applied);
  fromStats('chat_projector_batches_total', 'Batches committed (one Postgres transaction each)', () => projector.stats.batches);
  fromStats('chat_projector_failures_total', 'Batches or events that failed and were retried', () => projector.stats.failures);
  fromStats('chat_projector_dead_lettered_total', 'Events that failed on every attempt, kept in CHAT_DLQ and passed', () => projector.stats.deadLettered);
  fromStats('chat_projector_lock_losses_total', 'Times the writer lock\'s Postgres session failed (the projector paused and took it again)', () => projector.stats.lockLosses);
  fromStats('chat_projector_consumer_resets_total', 'Times the consumer was re-created at the checkpoint', () => projector.stats.resets);
  const router = o.router;
  if (router) {
    fromStats('chat_projector_delivery_publishes_total', 'Publishes to CHAT_DELIVERY (one per edge per routed batch, more only past 512 KiB)', () => router.stats.publishes);
    fromStats('chat_projector_delivery_envelopes_total', 'Frame envelopes in those publishes (one per frame and edge)', () => router.stats.envelopes);
  }
  gaugeFrom(registry, 'chat_projector_writer_lock', '1 while this instance holds the projector writer lock (exactly one instance should)', () => (projector.holding ? 1 : 0));
  gaugeFrom(registry, 'chat_projector_refusing', '1 while the projector refuses to run (a checkpoint past the end of the stream: see chatctl projections status)', () => (projector.refusal ? 1 : 0));
  let inflight: Promise<void> | undefined;
  const collect = async () => {
    inflight ??= refresh().finally(() => (inflight = undefined));
    await inflight;
  };
  const labelNames = ['projection'];
  const checkpoint = new Gauge({ name: 'chat_projection_checkpoint', help: 'Stream sequence each projection has applied up to', labelNames, registers: [registry], collect });
  const lagEvents = new Gauge({ name: 'chat_projection_lag_events', help: 'Events in CHAT_EVENTS after the projection\'s checkpoint', labelNames, registers: [registry], collect });
  const lagSeconds = new Gauge({ name: 'chat_projection_lag_seconds', help: 'Age of the oldest event the projection has not applied (0 when caught up)', labelNames, registers: [registry], collect });
  const names = new Set(projector.projections.map((p) => p.name));

  async function refresh(): Promise<void> {
    for (const g of [checkpoint, lagEvents, lagSeconds]) g.reset();
    try {
      const [{ rows }, si] = await Promise.all([
        o.pool.query<{ name: string; position: string }>('SELECT name, position FROM projection_checkpoints WHERE name = ANY($1)', [[...names]]),
        o.jsm.streams.info(o.stream),
      ]);
      const last = si.state.last_seq;
      const oldestUnapplied = new Map<number, number | null>();
      for (const r of rows) {
        const position = Number(r.position);
        const l = { projection: r.name };
        checkpoint.set(l, position);
        lagEvents.set(l, Math.max(0, last - position));
        if (position >= last) {
          lagSeconds.set(l, 0);
          continue;
        }
        // The next event may have aged out: then the oldest one kept is the oldest unapplied.
        const next = Math.max(position + 1, si.state.first_seq);
        if (!oldestUnapplied.has(next)) oldestUnapplied.set(next, await eventTime(next));
        const t = oldestUnapplied.get(next);
        if (t != null) lagSeconds.set(l, Math.max(0, (Date.now() - t) / 1000));
      }
    } catch {
      // Postgres or NATS unreachable: nothing rather than stale figures (the readiness shows why).
    }
  }

  async function eventTime(seq: number): Promise<number | null> {
    const m = await o.jsm.streams.getMessage(o.stream, { seq }).catch(() => null);
    return m ? m.time.getTime() : null;
  }

}

/** The batch histograms, told of each committed batch (ProjectorOptions.onBatch). */
export function projectorBatchMetrics(registry: Registry): (events: number, seconds: number) => void {
  const batchSize = new Histogram({ name: 'chat_projector_batch_size', help: 'Events per committed batch', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000], registers: [registry] });
  const batchSeconds = new Histogram({
    name: 'chat_projector_batch_duration_seconds',
    help: 'A batch from read to ack (routing, live delivery, the transaction, side effects)',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return (events, seconds) => {
    batchSize.observe(events);
    batchSeconds.observe(seconds);
  };
}
