import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ConsumerConfig, StreamConfig } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import { notifierConsumerConfigs, notifyStreamConfigs } from './notifications';
import { nanos } from './units';

export { nanos };

export interface StreamSettings {
  replicas: number;
  /** CHAT_EVENTS max age (retention), ms. Also CHAT_DLQ's: dead letters hold the same data. */
  maxAgeMs: number;
  /** Redelivery policies per consumer kind; tests shrink them, production uses DELIVERY_POLICIES. */
  delivery?: Partial<DeliveryPolicies>;
}

/**
 * How often, and how far apart, a durable consumer redelivers a message before giving up on
 * it. `backoffMs` spaces the redeliveries after an ack timeout (nats-server uses its first
 * value as the ack wait, and requires max_deliver > its length); a nak with a delay sets its
 * own. On its last delivery (`shouldDeadLetter` in @chat/nats) the consumer dead-letters the
 * message to CHAT_DLQ and terms it: nothing is dropped without a record.
 */
export interface DeliveryPolicy {
  maxDeliver: number;
  backoffMs: number[];
}

export interface DeliveryPolicies {
  /**
   * proj-*: strictly ordered, so a skip is a last resort. The runner retries a failed batch
   * itself (naks, then 0.2 s doubling to 30 s); 100 deliveries is ≈ 45 min of one event failing.
   * Ack wait 60 s: a batch of up to 1000 events is one transaction.
   */
  projection: DeliveryPolicy;
  /** edge-<id>: live frames are best effort (a device syncs anyway); CHAT_DELIVERY keeps 5 min. */
  edge: DeliveryPolicy;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
export const DELIVERY_POLICIES: DeliveryPolicies = {
  projection: { maxDeliver: 100, backoffMs: [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE] },
  edge: { maxDeliver: 5, backoffMs: [30 * SECOND, MINUTE, 2 * MINUTE] },
};

/** CHAT_DLQ keeps dead letters this long at most (product cap), and never longer than CHAT_MAX_AGE. */
export const DLQ_MAX_AGE_MS = 30 * 86_400_000;

/** The consumer fields of a delivery policy; throws on one nats-server 2.9 would refuse. */
export function deliveryFields(p: DeliveryPolicy): Pick<ConsumerConfig, 'ack_wait' | 'max_deliver' | 'backoff'> {
  if (!p.backoffMs.length || p.maxDeliver <= p.backoffMs.length) {
    throw new Error(`invalid delivery policy: max_deliver (${p.maxDeliver}) must be > the number of backoff values (${p.backoffMs.length}, at least 1)`);
  }
  // The server replaces ack_wait with the first backoff value; stating it keeps applyStreams idempotent.
  return { ack_wait: nanos(p.backoffMs[0]!), max_deliver: p.maxDeliver, backoff: p.backoffMs.map(nanos) };
}

const policy = (s: Pick<StreamSettings, 'delivery'> | undefined, kind: keyof DeliveryPolicies): DeliveryPolicy => s?.delivery?.[kind] ?? DELIVERY_POLICIES[kind];

/**
 * The streams, as code. Safety-relevant choices (asserted by streams.int.test.ts):
 * - everything is file storage: an acknowledged publish survives a server restart;
 * - CHAT_EVENTS is the source of truth: limits retention, max age = retention, no deletes;
 * - commands are not stored: they go over core NATS request/reply to the owner of their
 *   partition, and nothing is acknowledged to a client before its events are in CHAT_EVENTS;
 * - CHAT_DELIVERY keeps frames for a short max age (limits retention: an ack moves the edge's
 *   consumer on and deletes nothing; a work queue's delete on every ack cost nats-server a new
 *   message block file each time the stream ran empty); a device away longer re-syncs anyway.
 *   It holds nothing else, so `applyStreams` may re-create it (TRANSIENT_STREAMS);
 * - CHAT_DLQ keeps dead letters (limits, file) for CHAT_MAX_AGE (≤ 30 days); `chatctl dlq replay`
 *   deletes what it replayed.
 */
export function streamConfigs(n: Names, s: StreamSettings): Array<Partial<StreamConfig> & { name: string; subjects: string[] }> {
  return [
    {
      name: n.streams.events,
      description: 'Conversation and receipt events: the source of truth',
      subjects: [n.subjects.evtAll, n.subjects.prefAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(s.maxAgeMs),
      // Never longer than the max age (nats-server refuses it; only a test runs that short).
      duplicate_window: nanos(Math.min(2 * 60 * 1000, s.maxAgeMs)),
      num_replicas: s.replicas,
      deny_delete: true,
      allow_direct: true,
    },
    {
      name: n.streams.delivery,
      description: 'Frames routed to one edge each',
      subjects: [n.subjects.dlvAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(5 * 60 * 1000),
      duplicate_window: nanos(30 * 1000),
      num_replicas: s.replicas,
    },
    {
      name: n.streams.dlq,
      description: 'Dead letters: messages a consumer gave up on, with where they came from and why',
      subjects: [n.subjects.dlqAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(Math.min(s.maxAgeMs, DLQ_MAX_AGE_MS)),
      // Nats-Msg-Id <stream>:<seq>:<consumer>: a dead-lettering retried after a lost term is stored once.
      duplicate_window: nanos(Math.min(10 * 60 * 1000, s.maxAgeMs)),
      num_replicas: s.replicas,
      allow_direct: true,
    },
    ...notifyStreamConfigs(n, s),
  ];
}

/**
 * Streams whose messages are also reachable another way (CHAT_DELIVERY's frames: every device
 * syncs them from the read model), so `applyStreams` may delete and re-create one when a change
 * cannot be made in place (its retention), with the consumers it had.
 */
export const transientStreams = (n: Names): string[] => [n.streams.delivery];

/**
 * Deliveries the projector may hold un-acked: the batch it is applying plus what its pull
 * buffers behind it. Batches are capped well below (CHAT_PROJECTOR_BATCH ≤ 1000).
 */
export const PROJECTION_MAX_ACK_PENDING = 4000;

const durable = (name: string, filter: string, extra: Partial<ConsumerConfig> = {}): Partial<ConsumerConfig> & { durable_name: string } => ({
  durable_name: name,
  name,
  filter_subject: filter,
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  ...extra,
});

/** The projector's durable: every projection, live routing and push jobs read CHAT_EVENTS once, through it. */
export function projectorConsumerConfig(n: Names, s?: Pick<StreamSettings, 'delivery'>): { stream: string; config: Partial<ConsumerConfig> & { durable_name: string } } {
  return {
    stream: n.streams.events,
    config: {
      durable_name: n.consumers.projector,
      name: n.consumers.projector,
      description: 'Projector: every read model, live routing to the edges, push jobs',
      // Two filters on one consumer (nats-server 2.10+): conversation and receipt events, and
      // members' preferences, in stream order.
      filter_subjects: [n.subjects.evtAll, n.subjects.prefAll],
      // Applied strictly in order, one batch per transaction: acking a batch's last event
      // acknowledges the batch.
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.All,
      ...deliveryFields(policy(s, 'projection')),
      max_ack_pending: PROJECTION_MAX_ACK_PENDING,
    },
  };
}

/**
 * The command partition leases (libs/command-tier/src/partitions/leases.ts): a KV bucket whose
 * entries expire after the lease TTL, leaving a delete marker (nats-server 2.11) that tells the
 * other command processes at once.
 */
export const COMMAND_LEASE_TTL_MS = 6_000;

export function commandOwnersBucket(n: Names, s: Pick<StreamSettings, 'replicas'>): { name: string; ttlMs: number; replicas: number } {
  return { name: n.kv.commandOwners, ttlMs: COMMAND_LEASE_TTL_MS, replicas: s.replicas };
}

/**
 * Aggregate snapshots (key = the aggregate's subject, value = @chat/contracts' Snapshot): one
 * value per key, no max age (they must outlive CHAT_EVENTS' events), file storage, replicated
 * like the streams. Values stay under nats-server's default 1 MiB payload limit: a state holds
 * at most CHAT_MAX_GROUP_MEMBERS members and 1,024 message and client-id records.
 */
export function snapshotsBucket(n: Names, s: Pick<StreamSettings, 'replicas'>): { name: string; replicas: number } {
  return { name: n.kv.snapshots, replicas: s.replicas };
}

/** Consumers of earlier versions that `applyStreams` removes (they hold no data; their work moved). */
export function retiredConsumers(n: Names): Array<{ stream: string; name: string }> {
  return [
    { stream: n.streams.events, name: n.consumers.projMessages },
    { stream: n.streams.events, name: n.consumers.projReceipts },
    { stream: n.streams.events, name: n.consumers.projConversations },
    { stream: n.streams.events, name: n.consumers.notifier },
  ];
}

export function consumerConfigs(n: Names, s?: Pick<StreamSettings, 'delivery'>): Array<{ stream: string; config: Partial<ConsumerConfig> & { durable_name: string } }> {
  return [
    projectorConsumerConfig(n, s),
    ...notifierConsumerConfigs(n),
  ];
}

/**
 * An edge's consumer is removed by the server once no edge has pulled from it this long: the
 * edge of that id is gone (scaled down, renamed). Its frames are at most CHAT_DELIVERY's 5 min
 * old anyway, and the devices it served got them through sync. An edge that comes back with
 * the id creates it again.
 */
export const EDGE_CONSUMER_IDLE_MS = 60 * 60 * 1000;

export function edgeConsumerConfig(n: Names, edgeId: string, s?: Pick<StreamSettings, 'delivery'>): { stream: string; config: Partial<ConsumerConfig> & { durable_name: string } } {
  return {
    stream: n.streams.delivery,
    config: durable(n.consumers.edge(edgeId), n.subjects.dlv(edgeId), {
      description: `Frames for edge ${edgeId}`,
      ...deliveryFields(policy(s, 'edge')),
      max_ack_pending: 20_000,
      inactive_threshold: nanos(EDGE_CONSUMER_IDLE_MS),
    }),
  };
}
