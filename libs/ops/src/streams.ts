import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { loadConfig, names as namesFor, StreamsConfig, type Names } from '@chat/contracts';
import { connectNats, type ConnectOptions, type Nats } from '@chat/nats';
import { applyStreams, consumerConfigs, type ApplyReport, type StreamSettings } from '@chat/streams';
import { loadOpsConfig } from './config';
import { openLiveSource } from './events/live';
import { IDLE } from './events/source';
import { consumerRow, missingConsumerRow, streamRow, type ConsumerReportRow, type StreamReportRow } from './report';

/**
 * Connects, runs fn, and closes the connection whatever happens. A server older than
 * MIN_NATS_SERVER_VERSION is refused unless `opts.onOldServer` is given (read-only reports).
 */
export async function withNats<T>(url: string, fn: (nats: Nats) => Promise<T>, opts: ConnectOptions = {}): Promise<T> {
  // Authentication and TLS as the apps have them (NATS_CREDS, NATS_TLS_CA, …).
  const nats = await connectNats(url, 'chatctl', { security: loadOpsConfig(), ...opts });
  try {
    return await fn(nats);
  } finally {
    await nats.nc.close();
  }
}

/** Replicas and max age from CHAT_STREAM_REPLICAS / CHAT_MAX_AGE. */
export function streamSettings(env: Record<string, string | undefined> = process.env): StreamSettings {
  const cfg = loadConfig(StreamsConfig, env);
  return { replicas: cfg.CHAT_STREAM_REPLICAS, maxAgeMs: cfg.CHAT_MAX_AGE };
}

export interface ApplyAllOptions {
  natsUrl: string;
  ns: string;
  settings?: StreamSettings;
  /** Edges whose delivery consumers to create now (an edge also creates its own at start). */
  edgeIds?: string[];
}

/** Creates or updates every stream and consumer of the namespace. */
export async function applyAll(opts: ApplyAllOptions): Promise<ApplyReport> {
  const settings = opts.settings ?? streamSettings();
  return withNats(opts.natsUrl, (nats) => applyStreams(nats.jsm, namesFor(opts.ns), settings, opts.edgeIds ?? []));
}

/** Names of the namespace's streams that exist: CHAT_* (or <ns>_CHAT_*). */
export async function namespaceStreams(jsm: JetStreamManager, n: Names): Promise<string[]> {
  const prefix = n.ns ? `${n.ns}_CHAT_` : 'CHAT_';
  const found: string[] = [];
  for await (const si of jsm.streams.list()) if (si.config.name.startsWith(prefix)) found.push(si.config.name);
  return found.sort();
}

export interface StreamRow {
  stream: string;
  subjects: string;
  retention: string;
  storage: string;
  replicas: number;
  maxAge: string;
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumers: number;
}

export async function streamsReport(jsm: JetStreamManager, n: Names): Promise<StreamRow[]> {
  const rows: StreamRow[] = [];
  for (const name of await namespaceStreams(jsm, n)) {
    const { config, state } = await jsm.streams.info(name);
    rows.push({
      stream: name,
      subjects: config.subjects.join(','),
      retention: config.retention,
      storage: config.storage,
      replicas: config.num_replicas,
      maxAge: formatNanos(config.max_age),
      messages: state.messages,
      bytes: state.bytes,
      firstSeq: state.first_seq,
      lastSeq: state.last_seq,
      consumers: state.consumer_count,
    });
  }
  return rows;
}

/**
 * Every consumer of every stream of the namespace, as `nats consumer report` shows it, and
 * the expected ones that do not exist (`missing`): the projector's and the notifier's
 * (edges' consumers come and go with the edges).
 */
export async function consumersReport(jsm: JetStreamManager, n: Names, now = Date.now()): Promise<ConsumerReportRow[]> {
  const rows: ConsumerReportRow[] = [];
  const seen = new Set<string>();
  const streams = await namespaceStreams(jsm, n);
  for (const stream of streams) {
    const { state } = await jsm.streams.info(stream);
    const infos = [];
    for await (const ci of jsm.consumers.list(stream)) infos.push(ci);
    infos.sort((a, b) => a.name.localeCompare(b.name));
    for (const ci of infos) {
      seen.add(`${stream}\u0000${ci.name}`);
      rows.push(consumerRow(ci, state.messages, now));
    }
  }
  for (const { stream, config } of consumerConfigs(n)) {
    if (streams.includes(stream) && !seen.has(`${stream}\u0000${config.durable_name}`)) rows.push(missingConsumerRow(stream, config.durable_name));
  }
  return rows;
}

/** Every stream of the namespace, as `nats stream report` shows it. */
export async function streamReport(jsm: JetStreamManager, n: Names): Promise<StreamReportRow[]> {
  const rows: StreamReportRow[] = [];
  for (const name of await namespaceStreams(jsm, n)) rows.push(streamRow(await jsm.streams.info(name)));
  return rows;
}

export interface EventRecord {
  seq: number;
  subject: string;
  time: string;
  event: unknown;
}

export interface ReadEventsOptions {
  /** First stream sequence to read (1 = the oldest kept). */
  fromSeq?: number;
  /** A subject filter; wildcards allowed. Prefixed with the namespace when it lacks it. */
  subject?: string;
  limit?: number;
  /** Keep waiting for new events after the last one. */
  follow?: boolean;
}

/**
 * Replays the events stream with an ordered consumer: ephemeral, flow controlled, never
 * acknowledging, so it cannot disturb the durable consumers. The same reader as `chatctl
 * events` (events/live.ts), with the event as stored (JSON, or the payload as text).
 */
export async function* readEvents(js: JetStreamClient, n: Names, opts: ReadEventsOptions = {}): AsyncGenerator<EventRecord> {
  const limit = opts.limit ?? Infinity;
  let subject = opts.subject;
  if (subject && n.ns && !subject.startsWith(`${n.ns}.`)) subject = `${n.ns}.${subject}`;
  const source = await openLiveSource(js, await js.jetstreamManager(), n, { fromSeq: opts.fromSeq ?? 1, ...(subject ? { subjects: [subject] } : {}), signature: '' }, { after: 0, follow: opts.follow === true });
  let count = 0;
  for await (const e of source.events()) {
    if (e === IDLE) continue;
    yield { seq: e.seq, subject: e.subject, time: new Date(e.timeMs).toISOString(), event: 'json' in e.payload ? e.payload.json : new TextDecoder().decode(e.payload.notJson) };
    if (++count >= limit) return;
  }
}

function formatNanos(ns: number): string {
  if (!ns) return 'unlimited';
  const s = ns / 1e9;
  if (s % 86_400 === 0) return `${s / 86_400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}
