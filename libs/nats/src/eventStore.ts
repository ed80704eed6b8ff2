import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { readStoredEvent, type StoredEvent } from '@chat/contracts';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { PublishError, type JetStreamPublisher } from './publisher';

function natsHeadersOf(headers: Readonly<Record<string, string>>): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(headers)) h.set(k, v);
  return h;
}

/**
 * The subject moved on since the caller read it (JetStream error 10071), or the events were
 * already appended by an earlier attempt of the same command (a deduplicated publish). Either
 * way the caller's view is stale: reload the subject and decide again.
 */
export class ConcurrencyError extends Error {
  constructor(
    readonly subject: string,
    readonly expectedLastSubjectSeq: number,
    readonly reason: 'wrong-last-sequence' | 'duplicate',
    options?: { cause?: unknown },
  ) {
    super(`${subject}: ${reason === 'duplicate' ? 'already appended by this command' : `last sequence is not ${expectedLastSubjectSeq}`}`, options);
    this.name = 'ConcurrencyError';
  }
}

export const isConcurrencyError = (e: unknown): e is ConcurrencyError => e instanceof ConcurrencyError;

export interface LoadedEvents {
  events: StoredEvent[];
  /** Stream sequence of the subject's last message (0 = empty subject): the next append's expectation. */
  lastSubjectSeq: number;
}

/** Per-subject event streams with optimistic concurrency. */
export interface EventStore {
  /** The subject's events stored after stream sequence `afterSeq`, in order. */
  load(subject: string, afterSeq?: number): Promise<LoadedEvents>;
  /**
   * Appends `events` if the subject's last stream sequence is still `expectedLastSubjectSeq`;
   * resolves with the new last sequence once JetStream has acknowledged every event. Throws
   * ConcurrencyError when the subject moved on. `commandId` makes a retried append of the same
   * command a no-op within the stream's duplicate window. `headers` go on every event's message
   * (e.g. HANDED_BY_HEADER).
   */
  append(subject: string, events: readonly StoredEvent[], expectedLastSubjectSeq: number, commandId: string, headers?: Readonly<Record<string, string>>): Promise<number>;
}

/**
 * Refusals that mean "reload and decide again": 10071 (the subject's last sequence is not the
 * expected one) and 10164 (on a replicated stream, nats-server 2.11+: another append with an
 * expectation on the same subject is still being replicated, so none can be checked now).
 */
const WRONG_LAST_SEQUENCE: ReadonlySet<number> = new Set([JetStreamApiCodes.StreamWrongLastSequence, JetStreamApiCodes.StreamWrongLastSequenceUnknown]);
const isWrongLastSequence = (e: unknown): boolean =>
  (e instanceof JetStreamApiError && WRONG_LAST_SEQUENCE.has(e.code)) || (e instanceof PublishError && WRONG_LAST_SEQUENCE.has(e.errCode));

/** Up to this many events after a known position are read with single gets before opening a consumer. */
const DIRECT_READS = 4;

export class JetStreamEventStore implements EventStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    /** The lean publisher for appends (publisherFor(nc)); without it, nats.js's js.publish. */
    private readonly publisher?: JetStreamPublisher,
  ) {}

  async load(subject: string, afterSeq = 0): Promise<LoadedEvents> {
    // The stream leader's answer, so every event acknowledged before this call is counted.
    const last = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
    if (!last) return { events: [], lastSubjectSeq: 0 };
    // Nothing after the caller's position. (The subject's last sequence is the append's
    // expectation even when it is below `afterSeq`: a snapshot taken on a stream since replaced.)
    if (last.seq <= afterSeq) return { events: [], lastSubjectSeq: last.seq };
    const events: StoredEvent[] = [];
    let position = afterSeq;
    // Short subjects (receipts) and caches that missed a few appends (the usual case after a
    // conflict) are read with a few single gets, cheaper than creating a consumer.
    for (let i = 0; i < DIRECT_READS && position < last.seq; i++) {
      // Without allow_direct on the stream (or a replica behind) this falls back to the consumer.
      const m = await this.jsm.direct.getMessage(this.stream, { seq: position + 1, next_by_subj: subject }).catch(() => null);
      if (!m || m.seq > last.seq) break;
      events.push(readStoredEvent(m.json()));
      position = m.seq;
    }
    if (position >= last.seq) return { events, lastSubjectSeq: last.seq };
    position = await this.readWithConsumer(subject, position, last.seq, events);
    return { events, lastSubjectSeq: Math.max(position, afterSeq) };
  }

  /** Reads the subject from `afterSeq` up to `untilSeq` with an ordered consumer; returns the last sequence read. */
  private async readWithConsumer(subject: string, afterSeq: number, untilSeq: number, into: StoredEvent[]): Promise<number> {
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: subject,
      ...(afterSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
    let position = afterSeq;
    try {
      // Messages can age out (max age) between the last-message check and here.
      if ((await consumer.info(true)).num_pending === 0) return position;
      const messages = await consumer.consume({ max_messages: Math.min(1000, Math.max(16, untilSeq - afterSeq)) });
      try {
        for await (const m of messages) {
          into.push(readStoredEvent(m.json()));
          position = m.seq;
          if (m.seq >= untilSeq || m.info.pending === 0) break;
        }
      } finally {
        await messages.close();
      }
    } finally {
      // Ordered consumers are ephemeral; deleting now saves the server the inactivity timeout.
      consumer.delete().catch(() => undefined);
    }
    return position;
  }

  async append(subject: string, events: readonly StoredEvent[], expectedLastSubjectSeq: number, commandId: string, headers?: Readonly<Record<string, string>>): Promise<number> {
    let expected = expectedLastSubjectSeq;
    for (const [i, event] of events.entries()) {
      let ack;
      try {
        const data = JSON.stringify(event);
        const msgId = `${commandId}:${i}`;
        ack = this.publisher
          ? await this.publisher.publish(subject, data, { msgId, expectLastSubjectSeq: expected, ...(headers ? { headers: { ...headers } } : {}) })
          : await this.js.publish(subject, data, { msgID: msgId, expect: { lastSubjectSequence: expected }, ...(headers ? { headers: natsHeadersOf(headers) } : {}) });
      } catch (e) {
        if (isWrongLastSequence(e)) throw new ConcurrencyError(subject, expected, 'wrong-last-sequence', { cause: e });
        throw e;
      }
      // JetStream checks the message id before the expectation: a duplicate says nothing about
      // where the subject is now, only that this command was appended before.
      if (ack.duplicate) throw new ConcurrencyError(subject, expected, 'duplicate');
      expected = ack.seq;
    }
    return expected;
  }
}
