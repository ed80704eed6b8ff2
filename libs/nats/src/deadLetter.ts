import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { JetStreamClient, JsMsg, PubAck } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';

/**
 * One entry of CHAT_DLQ, on `chat.dlq.<consumer>`, as JSON. The original message is kept
 * byte for byte (`data`, base64) with its headers, so a replay republishes exactly it.
 */
export interface DeadLetterEntry {
  /** Format version. */
  v: 1;
  /** Where the message was: stream, subject and stream sequence. */
  stream: string;
  subject: string;
  seq: number;
  /** The durable consumer that gave up on it. */
  consumer: string;
  /** Deliveries made before giving up. */
  deliveries: number;
  /** The last error, as a message. */
  error: string;
  /** When it was dead-lettered (ISO 8601). */
  time: string;
  /**
   * True when the consumer moved on past the message and what it feeds is now missing it
   * (a projection that skipped an event): replaying needs more than a republish.
   */
  skipped?: boolean;
  /** The original payload, base64. */
  data: string;
  /** The original headers (first value of each), if any. */
  headers?: Record<string, string>;
}

export interface DeadLetterInput {
  stream: string;
  subject: string;
  streamSeq: number;
  consumer: string;
  deliveryCount: number;
  error: unknown;
  data: Uint8Array;
  headers?: MsgHdrs | Record<string, string> | undefined;
  skipped?: boolean;
  /** Defaults to now. */
  time?: Date;
}

/** Header naming the consumer on a CHAT_DLQ message (the subject says it too). */
export const DLQ_CONSUMER_HEADER = 'Chat-Dlq-Consumer';

/**
 * True on a message's last delivery: after it the server will not redeliver, so the consumer
 * must dead-letter it now (or never get the chance). `maxDeliver` ≤ 0 means unlimited.
 */
export function shouldDeadLetter(deliveryCount: number, maxDeliver: number): boolean {
  return maxDeliver > 0 && deliveryCount >= maxDeliver;
}

/** `<stream>:<seq>:<consumer>`: a dead-lettering retried (e.g. after a lost term) is stored once. */
export const deadLetterMsgId = (stream: string, seq: number, consumer: string): string => `${stream}:${seq}:${consumer}`;

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
}

function headerRecord(h: MsgHdrs | Record<string, string> | undefined): Record<string, string> | undefined {
  if (!h) return undefined;
  if (typeof (h as MsgHdrs).keys === 'function' && typeof (h as MsgHdrs).get === 'function') {
    const hdrs = h as MsgHdrs;
    const keys = hdrs.keys();
    return keys.length ? Object.fromEntries(keys.map((k) => [k, hdrs.get(k)])) : undefined;
  }
  const rec = h as Record<string, string>;
  return Object.keys(rec).length ? { ...rec } : undefined;
}

export function deadLetterEntry(input: DeadLetterInput): DeadLetterEntry {
  const headers = headerRecord(input.headers);
  return {
    v: 1,
    stream: input.stream,
    subject: input.subject,
    seq: input.streamSeq,
    consumer: input.consumer,
    deliveries: input.deliveryCount,
    error: errorMessage(input.error).slice(0, 4_000),
    time: (input.time ?? new Date()).toISOString(),
    ...(input.skipped ? { skipped: true } : {}),
    data: Buffer.from(input.data).toString('base64'),
    ...(headers ? { headers } : {}),
  };
}

/**
 * Publishes a dead letter to CHAT_DLQ (`chat.dlq.<consumer>`) and waits for JetStream to store
 * it. The caller then `term()`s the original; if this throws, it must not (nak instead, or
 * leave it to ack_wait), or the message would be gone without a record.
 */
export async function deadLetter(js: JetStreamClient, n: Names, input: DeadLetterInput): Promise<PubAck> {
  const entry = deadLetterEntry(input);
  const h = natsHeaders();
  h.set(DLQ_CONSUMER_HEADER, input.consumer);
  return js.publish(n.subjects.dlq(input.consumer), JSON.stringify(entry), {
    msgID: deadLetterMsgId(input.stream, input.streamSeq, input.consumer),
    headers: h,
  });
}

/**
 * Dead-letters a delivered message and terms it: what a consumer calls when it gives up on
 * `msg` (see shouldDeadLetter). Throws without terming if the dead letter could not be stored.
 */
export async function deadLetterMessage(
  js: JetStreamClient,
  n: Names,
  msg: JsMsg,
  opts: { consumer: string; error: unknown; skipped?: boolean; /** Attempts counted by the caller, when more than the server's count. */ attempts?: number },
): Promise<PubAck> {
  const ack = await deadLetter(js, n, {
    stream: msg.info.stream,
    subject: msg.subject,
    streamSeq: msg.seq,
    consumer: opts.consumer,
    deliveryCount: Math.max(msg.info.deliveryCount, opts.attempts ?? 0),
    error: opts.error,
    data: msg.data,
    headers: msg.headers,
    ...(opts.skipped ? { skipped: true } : {}),
  });
  // No reason argument: nats-server 2.9 does not understand `+TERM <reason>` and ignores the term.
  msg.term();
  return ack;
}

/** Parses a CHAT_DLQ message body. */
export function parseDeadLetter(body: string): DeadLetterEntry {
  const e = JSON.parse(body) as Partial<DeadLetterEntry>;
  if (e.v !== 1 || typeof e.stream !== 'string' || typeof e.subject !== 'string' || typeof e.seq !== 'number' || typeof e.consumer !== 'string' || typeof e.data !== 'string') {
    throw new Error('not a dead letter entry');
  }
  return e as DeadLetterEntry;
}
