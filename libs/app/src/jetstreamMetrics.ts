import type { JetStreamManager } from '@nats-io/jetstream';
import { Gauge, type Registry } from 'prom-client';
import { lastActiveMs } from '@chat/nats';


export interface JetStreamGaugesOptions {
  /** The streams to report (and whose consumers to report). */
  streams: string[];
  /**
   * Whether this process exports now. The figures are the cluster's, not the process's: one
   * process of the system exports them (the command process holding partition 0) so that a
   * dashboard's sum over targets is not multiplied by the number of processes.
   */
  active: () => boolean;
}

/**
 * Stream and consumer figures read from the JetStream API at scrape time: what `nats stream
 * report` and `nats consumer report` show. The DLQ depth is `chat_stream_messages` of CHAT_DLQ.
 */
export function registerJetStreamGauges(registry: Registry, jsm: JetStreamManager, o: JetStreamGaugesOptions): void {
  let inflight: Promise<void> | undefined;
  // prom-client collects gauges concurrently: they all share one refresh per scrape.
  const collect = async () => {
    inflight ??= refresh().finally(() => (inflight = undefined));
    await inflight;
  };
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry], collect });
  const exporter = gauge('chat_jetstream_exporter', '1 on the one process that exports the stream and consumer figures below, 0 elsewhere', []);
  const c = ['stream', 'consumer'];
  const consumers = {
    pending: gauge('chat_consumer_pending', 'Messages of the stream not yet delivered to the consumer (nats: Unprocessed)', c),
    ackPending: gauge('chat_consumer_ack_pending', 'Messages delivered but not acknowledged (nats: Ack Pending)', c),
    maxAckPending: gauge('chat_consumer_max_ack_pending', 'The consumer\'s max_ack_pending (-1: unlimited)', c),
    redelivered: gauge('chat_consumer_redelivered', 'Messages redelivered and not yet acknowledged (nats: Redelivered)', c),
    waiting: gauge('chat_consumer_waiting_pulls', 'Pull requests waiting (nats: Waiting Pulls); 0 while no app reads the consumer', c),
    ackFloor: gauge('chat_consumer_ack_floor_stream_sequence', 'Stream sequence up to which everything is acknowledged', c),
    lastActive: gauge('chat_consumer_last_active_timestamp_seconds', 'When the consumer last delivered a message (Unix time; absent if never)', c),
  };
  const s = ['stream'];
  const streams = {
    messages: gauge('chat_stream_messages', 'Messages in the stream', s),
    bytes: gauge('chat_stream_bytes', 'Bytes in the stream', s),
    firstSeq: gauge('chat_stream_first_sequence', 'Oldest sequence still in the stream', s),
    lastSeq: gauge('chat_stream_last_sequence', 'Newest sequence in the stream', s),
    lost: gauge('chat_stream_lost_messages', 'Messages the server lost from storage (must be 0)', s),
    consumers: gauge('chat_stream_consumers', 'Consumers of the stream', s),
  };

  async function refresh(): Promise<void> {
    for (const g of [...Object.values(consumers), ...Object.values(streams)]) g.reset();
    const active = o.active();
    exporter.set(active ? 1 : 0);
    if (!active) return;
    for (const stream of o.streams) {
      try {
        const si = await jsm.streams.info(stream);
        const l = { stream };
        streams.messages.set(l, si.state.messages);
        streams.bytes.set(l, si.state.bytes);
        streams.firstSeq.set(l, si.state.first_seq);
        streams.lastSeq.set(l, si.state.last_seq);
        streams.lost.set(l, si.state.lost?.msgs?.length ?? 0);
        streams.consumers.set(l, si.state.consumer_count);
        for await (const ci of jsm.consumers.list(stream)) {
          const k = { stream, consumer: ci.name };
          consumers.pending.set(k, ci.num_pending);
          consumers.ackPending.set(k, ci.num_ack_pending);
          consumers.maxAckPending.set(k, ci.config.max_ack_pending ?? -1);
          consumers.redelivered.set(k, ci.num_redelivered);
          consumers.waiting.set(k, ci.num_waiting);
          consumers.ackFloor.set(k, ci.ack_floor.stream_seq);
          const last = lastActiveMs(ci.delivered.last_active);
          if (last !== null) consumers.lastActive.set(k, last / 1000);
        }
      } catch {
        // The stream is missing or NATS is unreachable: nothing for it rather than stale figures.
      }
    }
  }
}
