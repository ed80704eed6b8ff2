import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ConsumerConfig, StreamConfig } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import { nanos } from './units';

const SECOND = 1_000;

/** Redeliveries of one push job (5xx, timeouts, connection errors) before it is given up. */
export const NOTIFIER_JOB_MAX_DELIVER = 8;

/**
 * CHAT_NOTIFY: push-notification jobs, one per message for its recipients with no connected
 * device (`chat.notify.<conversationId>`; older jobs, one per recipient, on `chat.notify.<userId>`).
 * A work queue: a job is gone once the notifier acked it. A day of max age (a push older than
 * that is noise); 10 min duplicate window for `Nats-Msg-Id: <eventSeq>:<first recipient>`, so a
 * redelivered event never queues a job twice.
 */
export function notifyStreamConfigs(n: Names, s: { replicas: number }): Array<Partial<StreamConfig> & { name: string; subjects: string[] }> {
  return [
    {
      name: n.streams.notify,
      description: 'Push-notification jobs for offline recipients',
      subjects: [n.subjects.notifyAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(86_400 * SECOND),
      duplicate_window: nanos(10 * 60 * SECOND),
      num_replicas: s.replicas,
    },
  ];
}

/**
 * `notifier-jobs` on CHAT_NOTIFY. The worker holds a job un-acked for up to one collapse window
 * (≤ 60 s) plus the push timeout, hence the 90 s ack wait; retries are delayed naks. (The jobs
 * come from the projector, which knows who has no connected device as it routes a message.)
 */
export function notifierConsumerConfigs(n: Names): Array<{ stream: string; config: Partial<ConsumerConfig> & { durable_name: string } }> {
  return [
    {
      stream: n.streams.notify,
      config: {
        durable_name: n.consumers.notifierJobs,
        name: n.consumers.notifierJobs,
        description: 'Notifier: pushes to the gateway',
        filter_subject: n.subjects.notifyAll,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(90 * SECOND),
        backoff: [nanos(90 * SECOND), nanos(120 * SECOND)],
        max_deliver: NOTIFIER_JOB_MAX_DELIVER,
        max_ack_pending: 10_000,
      },
    },
  ];
}
