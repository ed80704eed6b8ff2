import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/** How long the consumer may stay stuck before it is re-created. */
export const STALLED_CONSUMER_MS = 20_000;

/** The consumer's replica group (or JetStream) did not answer in time. */
export const isUnavailable = (e: unknown): boolean =>
  (e instanceof JetStreamApiError && (e.status === 503 || e.code === 10008)) || (e instanceof Error && (e.name === 'TimeoutError' || /timeout|temporarily unavailable/i.test(e.message)));

export const isConsumerGone = (e: unknown): boolean => e instanceof JetStreamApiError && e.code === JetStreamApiCodes.ConsumerNotFound;

/**
 * Stalled consumer detection, fed each time a read found nothing: a consumer that has had
 * events waiting, or has not answered, for `limitMs` (while its stream answers) is stuck (seen
 * on clusters after a node missed its re-creation) and is to be re-created. Times are the
 * caller's clock, in ms.
 */
export class StallWatch {
  private idleSince = 0;
  private unavailableSince = 0;

  constructor(readonly limitMs: number = STALLED_CONSUMER_MS) {}

  /** The consumer was (re-)created. */
  opened(): void {
    this.idleSince = 0;
    this.unavailableSince = 0;
  }

  /** The consumer delivered. */
  delivered(): void {
    this.idleSince = 0;
  }

  /** The consumer answered with `pending` events waiting: how long it has been stuck once that reaches the limit, else null. */
  answered(pending: number, now: number): number | null {
    this.unavailableSince = 0;
    if (pending === 0) {
      this.idleSince = 0;
      return null;
    }
    this.idleSince ||= now;
    return this.stuck(this.idleSince, now);
  }

  /** The consumer did not answer: how long it has not once that reaches the limit, else null. */
  unanswered(now: number): number | null {
    this.unavailableSince ||= now;
    return this.stuck(this.unavailableSince, now);
  }

  private stuck(since: number, now: number): number | null {
    return now - since < this.limitMs ? null : now - since;
  }
}
