import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JetStreamManager } from '@nats-io/jetstream';

export type EdgeMetrics = ReturnType<typeof createMetrics>;

/**
 * A metric's child per label value, made once: on the per-frame paths, `metric.inc({ type })`
 * hashes the labels on every call.
 */
export function perLabel<C>(make: (value: string) => C): (value: string) => C {
  const children = new Map<string, C>();
  return (value) => {
    let c = children.get(value);
    if (!c) children.set(value, (c = make(value)));
    return c;
  };
}

export function createMetrics(edgeId: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ edge: edgeId });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    framesIn: new Counter({ name: 'chat_ws_frames_in_total', help: 'WebSocket frames received, by type', labelNames: ['type'], registers: [registry] }),
    framesOut: new Counter({ name: 'chat_ws_frames_out_total', help: 'WebSocket frames sent, by type', labelNames: ['type'], registers: [registry] }),
    connections: new Gauge({ name: 'chat_ws_connections', help: 'Open WebSocket connections', registers: [registry] }),
    commands: new Counter({ name: 'chat_commands_total', help: 'Commands published, by type and outcome', labelNames: ['type', 'outcome'], registers: [registry] }),
    commandSeconds: new Histogram({
      name: 'chat_command_duration_seconds',
      help: 'Frame received to command answer',
      labelNames: ['type'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    deliveries: new Counter({ name: 'chat_deliveries_total', help: 'Frames pushed from the delivery consumer to sockets', registers: [registry] }),
    rateLimited: new Counter({
      name: 'chat_rate_limited_total',
      help: 'Frames or upgrades refused by a rate limit, by kind (frame, send, create, connections)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    rateLimiterFallbacks: new Counter({ name: 'chat_rate_limiter_fallbacks_total', help: 'Shared rate-limit checks answered by the local bucket because Redis failed', registers: [registry] }),
    originRefused: new Counter({ name: 'chat_origin_refused_total', help: 'Requests and upgrades refused for an Origin not in CHAT_ALLOWED_ORIGINS', registers: [registry] }),
    blockLookupFailures: new Counter({ name: 'chat_block_lookup_failures_total', help: 'Sends and creates let through unchecked because the block lookup failed (read model unreachable)', registers: [registry] }),
    typingDropped: new Counter({
      name: 'chat_typing_dropped_total',
      help: 'Typing signals not forwarded, by reason (throttled: a start within 3 s of the last; large_group: over 20 members)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    slowConsumersClosed: new Counter({ name: 'chat_ws_slow_consumers_closed_total', help: 'Sockets closed for exceeding the send buffer limit', registers: [registry] }),
  };
}

/**
 * Consumer lag per durable consumer, read from the JetStream API at scrape time: the same
 * figures `nats consumer report` shows.
 */
export function registerConsumerGauges(registry: Registry, jsm: JetStreamManager, streams: string[]): void {
  const labels = ['stream', 'consumer'];
  let inflight: Promise<void> | undefined;
  // prom-client may collect metrics concurrently: the three gauges share one refresh.
  const collect = async () => {
    inflight ??= refresh().finally(() => (inflight = undefined));
    await inflight;
  };
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: labels, registers: [registry], collect });
  const pending = gauge('chat_consumer_pending', 'Messages not yet delivered to the consumer');
  const ackPending = gauge('chat_consumer_ack_pending', 'Messages delivered but not acknowledged');
  const redelivered = gauge('chat_consumer_redelivered', 'Messages redelivered and not yet acknowledged');
  async function refresh(): Promise<void> {
    for (const g of [pending, ackPending, redelivered]) g.reset();
    for (const stream of streams) {
      try {
        for await (const ci of jsm.consumers.list(stream)) {
          const l = { stream, consumer: ci.name };
          pending.set(l, ci.num_pending);
          ackPending.set(l, ci.num_ack_pending);
          redelivered.set(l, ci.num_redelivered);
        }
      } catch {
        // stream missing or NATS unreachable: report nothing for it rather than stale figures
      }
    }
  }
}
