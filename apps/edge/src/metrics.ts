import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

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

/** The edge's metrics, in the registry its shell serves on the ops port (labelled app="edge", edge=EDGE_ID). */
export function createMetrics(registry: Registry) {
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
    receipts: new Counter({
      name: 'chat_edge_receipts_total',
      help: 'Receipt frames by where they were decided: appended (by this edge), unchanged (nothing to append), forwarded (to a command process)',
      labelNames: ['outcome'],
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

