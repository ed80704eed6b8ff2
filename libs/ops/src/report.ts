import type { ClusterInfo, ConsumerInfo, StreamInfo } from '@nats-io/jetstream';
import { lastActiveMs } from '@chat/nats';

/**
 * What `nats consumer report` / `nats consumer info` and `nats stream report` show, read from
 * the JetStream API (no `nats` CLI needed): pure mappings from the API's info objects, so the
 * columns are tested without a server. docs/operations.md puts the two side by side.
 */

const ms = (nanos: number | undefined): number | null => (nanos === undefined ? null : Math.round(nanos / 1e6));
const agoMs = (lastActive: unknown, now: number): number | null => {
  const t = lastActiveMs(lastActive);
  return t === null ? null : Math.max(0, now - t);
};

export interface ReplicaState {
  name: string;
  /** The server's own words: current (caught up), offline, lagging by `lag` operations. */
  current: boolean;
  offline: boolean;
  activeAgoMs: number | null;
  lag: number;
}

export interface ClusterState {
  name: string | null;
  leader: string | null;
  replicas: ReplicaState[];
}

function clusterState(c: ClusterInfo | undefined): ClusterState | null {
  if (!c) return null;
  return {
    name: c.name ?? null,
    leader: c.leader ?? null,
    replicas: (c.replicas ?? []).map((r) => ({ name: r.name, current: r.current, offline: r.offline === true, activeAgoMs: ms(r.active), lag: r.lag ?? 0 })),
  };
}

/** One consumer, with the keys `chatctl consumers --json` prints. */
export interface ConsumerReportRow {
  stream: string;
  consumer: string;
  ackPolicy: string;
  ackWaitMs: number | null;
  numAckPending: number;
  maxAckPending: number | null;
  numRedelivered: number;
  /** Unprocessed: messages for this consumer not yet delivered (its lag). */
  numPending: number;
  /** numPending as a share of the stream's messages (what `nats consumer report` shows next to it). */
  unprocessedPct: number;
  ackFloorStreamSeq: number;
  /** Pull requests waiting at the server (a consumer with clients connected has some). */
  numWaiting: number;
  lastDeliveryAgoMs: number | null;
  lastAckAgoMs: number | null;
  cluster: ClusterState | null;
  /** An expected consumer that does not exist (nothing reads what it should). */
  missing?: true;
}

export function consumerRow(ci: ConsumerInfo, streamMessages: number, now: number): ConsumerReportRow {
  return {
    stream: ci.stream_name,
    consumer: ci.name,
    ackPolicy: ci.config.ack_policy,
    ackWaitMs: ms(ci.config.ack_wait),
    numAckPending: ci.num_ack_pending,
    maxAckPending: ci.config.max_ack_pending ?? null,
    numRedelivered: ci.num_redelivered,
    numPending: ci.num_pending,
    unprocessedPct: streamMessages > 0 ? Math.round((ci.num_pending / streamMessages) * 1000) / 10 : 0,
    ackFloorStreamSeq: ci.ack_floor.stream_seq,
    numWaiting: ci.num_waiting,
    lastDeliveryAgoMs: agoMs(ci.delivered.last_active, now),
    lastAckAgoMs: agoMs(ci.ack_floor.last_active, now),
    cluster: clusterState(ci.cluster),
  };
}

export function missingConsumerRow(stream: string, consumer: string): ConsumerReportRow {
  return {
    stream,
    consumer,
    ackPolicy: '-',
    ackWaitMs: null,
    numAckPending: 0,
    maxAckPending: null,
    numRedelivered: 0,
    numPending: 0,
    unprocessedPct: 0,
    ackFloorStreamSeq: 0,
    numWaiting: 0,
    lastDeliveryAgoMs: null,
    lastAckAgoMs: null,
    cluster: null,
    missing: true,
  };
}

/** One stream, as `nats stream report` shows it (plus first and last message times). */
export interface StreamReportRow {
  stream: string;
  storage: string;
  consumers: number;
  messages: number;
  bytes: number;
  /** Messages the server lost (disk damage): should be 0. */
  lostMessages: number;
  /** Interior deletes (acknowledged work-queue messages, purges). */
  deleted: number;
  firstSeq: number;
  lastSeq: number;
  firstTime: string | null;
  lastTime: string | null;
  replicas: number;
  cluster: ClusterState | null;
}

export function streamRow(si: StreamInfo): StreamReportRow {
  const zero = (iso: string | undefined) => (iso && Date.parse(iso) > 0 ? iso : null);
  return {
    stream: si.config.name,
    storage: si.config.storage,
    consumers: si.state.consumer_count,
    messages: si.state.messages,
    bytes: si.state.bytes,
    lostMessages: si.state.lost?.msgs?.length ?? 0,
    deleted: si.state.num_deleted ?? 0,
    firstSeq: si.state.first_seq,
    lastSeq: si.state.last_seq,
    firstTime: si.state.messages > 0 ? zero(si.state.first_ts) : null,
    lastTime: si.state.messages > 0 ? zero(si.state.last_ts) : null,
    replicas: si.config.num_replicas,
    cluster: clusterState(si.cluster),
  };
}

/** A cluster column in the text tables: the leader, and each replica that is not current. */
export function clusterCell(c: ClusterState | null): string {
  if (!c) return '-';
  const troubled = c.replicas.filter((r) => r.offline || !r.current).map((r) => `${r.name}${r.offline ? ' OFFLINE' : ` lag ${r.lag}`}`);
  return [c.leader ? `${c.leader}*` : 'no leader', ...c.replicas.filter((r) => !r.offline && r.current).map((r) => r.name), ...troubled].join(', ');
}

/** Human durations for the tables: 850ms, 12.3s, 4m5s, "never". */
export function formatAgo(msValue: number | null): string {
  if (msValue === null) return 'never';
  if (msValue < 1000) return `${msValue}ms`;
  if (msValue < 60_000) return `${(msValue / 1000).toFixed(1)}s`;
  const m = Math.floor(msValue / 60_000);
  return m < 60 ? `${m}m${Math.floor((msValue % 60_000) / 1000)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}
