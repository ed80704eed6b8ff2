import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import type { ConsumerConfig } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import { nanos } from './units';

/** Longer than the archive's largest CHAT_ARCHIVE_MAX_DELAY (5 min) plus an object's upload. */
export const ARCHIVE_ACK_WAIT_MS = 10 * 60_000;

/** Above the largest CHAT_ARCHIVE_MAX_EVENTS (40,000): an object's events are all un-acked until it is written. */
export const ARCHIVE_MAX_ACK_PENDING = 50_000;

/**
 * `archive` on CHAT_EVENTS, for the optional apps/archive: every event, from the oldest the
 * stream holds. Not in `consumerConfigs` (the archive is optional, so `streams apply` does not
 * create it and `chatctl consumers` does not miss it); the archive ensures it at start, as an
 * edge does its own. Each event is acked only once the object holding it is in S3, so an
 * unbounded max_deliver: an event is never given up while S3 is unavailable.
 */
export function archiveConsumerConfig(n: Names): { stream: string; config: Partial<ConsumerConfig> & { durable_name: string } } {
  return {
    stream: n.streams.events,
    config: {
      durable_name: n.consumers.archive,
      name: n.consumers.archive,
      description: 'Archive: CHAT_EVENTS to S3 as hourly NDJSON objects',
      filter_subjects: [n.subjects.evtAll, n.subjects.prefAll],
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ARCHIVE_ACK_WAIT_MS),
      max_deliver: -1,
      max_ack_pending: ARCHIVE_MAX_ACK_PENDING,
    },
  };
}
