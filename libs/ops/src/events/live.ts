import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import type { EventFilter } from './plan';
import { rawFromPayload } from './record';
import { IDLE, type Source } from './source';

/** Stream time of a message, ms (floored, so that a filter on whole ms agrees with the server's ns). */
export const streamTimeMs = (timestampNanos: number): number => Math.floor(timestampNanos / 1e6);

export interface LiveSourceOptions {
  /** Resume: start after this seq (0 = no resume). */
  after: number;
  follow: boolean;
}

/**
 * CHAT_EVENTS through an ordered consumer: ephemeral, flow controlled, never acknowledging, so
 * it cannot disturb the durable consumers; deleted when done. The time bounds are resolved to
 * sequences first (direct get by start time), which names the range an S3 object covers and
 * sizes the progress line; the consumer starts by time when `--since` is what bounds it.
 */
export async function openLiveSource(js: JetStreamClient, jsm: JetStreamManager, n: Names, f: EventFilter, o: LiveSourceOptions): Promise<Source> {
  const stream = n.streams.events;
  const { state } = await jsm.streams.info(stream).catch((e: unknown) => {
    throw e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound
      ? new Error(`there is no stream ${stream} (namespace "${n.ns}"): check CHAT_NS, or run chatctl streams apply`)
      : e;
  });
  const firstAt = async (ms: number) => (await jsm.direct.getMessage(stream, { start_time: new Date(ms) }))?.seq ?? state.last_seq + 1;
  const sinceSeq = f.sinceMs !== undefined ? await firstAt(f.sinceMs) : undefined;
  const untilSeq = f.untilMs !== undefined ? (await firstAt(f.untilMs)) - 1 : undefined;
  const otherLower = Math.max(f.fromSeq ?? 1, o.after + 1, state.first_seq);
  const from = Math.max(otherLower, sinceSeq ?? 1);
  const to = Math.min(f.toSeq ?? Infinity, untilSeq ?? Infinity, o.follow ? Infinity : state.last_seq);
  const byTime = f.sinceMs !== undefined && sinceSeq !== undefined && sinceSeq > otherLower;
  let remaining: number | undefined;

  async function* events() {
    if (from > to) return;
    const consumer = await js.consumers.get(stream, {
      ...(f.subjects ? { filter_subjects: f.subjects } : {}),
      ...(byTime
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(f.sinceMs!).toISOString() }
        : from > 1
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from }
          : { deliver_policy: DeliverPolicy.All }),
    });
    try {
      for (;;) {
        const batch = await consumer.fetch({ max_messages: 256, expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          if (m.seq > to) return;
          remaining = m.info.pending;
          yield rawFromPayload(m.seq, m.subject, streamTimeMs(m.info.timestampNanos), m.data);
          if (m.seq >= to || (!o.follow && m.info.pending === 0)) return;
        }
        if (got === 0) {
          if (!o.follow || (f.untilMs !== undefined && Date.now() >= f.untilMs)) return;
          yield IDLE;
        }
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }

  return {
    from,
    to,
    estimate(done) {
      if (!Number.isFinite(to)) return undefined;
      const span = to - from + 1;
      if (!f.subjects) return span;
      return remaining === undefined ? undefined : Math.min(span, done + remaining);
    },
    events,
  };
}
