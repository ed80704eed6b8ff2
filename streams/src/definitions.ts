import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ConsumerConfig, StreamConfig } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';

const NS = 1_000_000; // nanoseconds per millisecond
export const ms = (n: number): number => n * NS;

export interface StreamSettings {
  replicas: number;
  /** CHAT_EVENTS max age (retention), ms. */
  maxAgeMs: number;
}

/**
 * The streams, as code. Safety-relevant choices (asserted by streams.int.test.ts):
 * - everything is file storage: an acknowledged publish survives a server restart;
 * - CHAT_EVENTS is the source of truth: limits retention, max age = retention, no deletes;
 * - CHAT_CMD is a work queue with a 2 minute duplicate window for Nats-Msg-Id retries;
 * - CHAT_DELIVERY is a work queue with a short max age: a device away longer re-syncs anyway.
 */
export function streamConfigs(n: Names, s: StreamSettings): Array<Partial<StreamConfig> & { name: string; subjects: string[] }> {
  return [
    {
      name: n.streams.cmd,
      description: 'Commands waiting for the command service',
      subjects: [n.subjects.cmdAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: ms(60 * 60 * 1000),
      duplicate_window: ms(2 * 60 * 1000),
      num_replicas: s.replicas,
    },
    {
      name: n.streams.events,
      description: 'Conversation and receipt events: the source of truth',
      subjects: [n.subjects.evtAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: ms(s.maxAgeMs),
      duplicate_window: ms(2 * 60 * 1000),
      num_replicas: s.replicas,
      deny_delete: true,
      allow_direct: true,
    },
    {
      name: n.streams.delivery,
      description: 'Frames routed to one edge each',
      subjects: [n.subjects.dlvAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: ms(5 * 60 * 1000),
      duplicate_window: ms(30 * 1000),
      num_replicas: s.replicas,
    },
  ];
}

/** Events applied per projector transaction can never exceed this. */
export const PROJECTION_MAX_ACK_PENDING = 1000;

const durable = (name: string, filter: string, extra: Partial<ConsumerConfig> = {}): Partial<ConsumerConfig> & { durable_name: string } => ({
  durable_name: name,
  name,
  filter_subject: filter,
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  ...extra,
});

export function consumerConfigs(n: Names): Array<{ stream: string; config: Partial<ConsumerConfig> & { durable_name: string } }> {
  return [
    {
      stream: n.streams.cmd,
      config: durable(n.consumers.commandHandler, n.subjects.cmdAll, {
        description: 'Command service',
        ack_wait: ms(30_000),
        max_deliver: 10,
        max_ack_pending: 10_000,
      }),
    },
    ...[
      [n.consumers.projMessages, n.subjects.evtConvAll, 'Messages, inbox and live routing'],
      [n.consumers.projReceipts, n.subjects.evtRcptAll, 'Delivered/read watermarks'],
      [n.consumers.projConversations, n.subjects.evtAll, 'Conversation list and unread counts'],
    ].map(([name, filter, description]) => ({
      stream: n.streams.events,
      config: durable(name!, filter!, {
        description,
        ack_wait: ms(60_000),
        // A projection must never skip an event: it retries until it succeeds, in order.
        max_deliver: -1,
        max_ack_pending: PROJECTION_MAX_ACK_PENDING,
      }),
    })),
  ];
}

export function edgeConsumerConfig(n: Names, edgeId: string): { stream: string; config: Partial<ConsumerConfig> & { durable_name: string } } {
  return {
    stream: n.streams.delivery,
    config: durable(n.consumers.edge(edgeId), n.subjects.dlv(edgeId), {
      description: `Frames for edge ${edgeId}`,
      ack_wait: ms(30_000),
      max_deliver: 5,
      max_ack_pending: 20_000,
    }),
  };
}
