import { headers as natsHeaders } from '@nats-io/transport-node';
import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import { parseDeadLetter, type DeadLetterEntry } from '@chat/nats';

/** One CHAT_DLQ entry as `chatctl dlq list` shows it: `id` is its CHAT_DLQ sequence. */
export interface DlqRow extends DeadLetterEntry {
  id: number;
}

export interface ListDeadLettersOptions {
  /** Only this consumer's entries (projector, edge-<id>, …). */
  consumer?: string;
  limit?: number;
}

const isNotFound = (e: unknown): boolean =>
  e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.NoMessageFound || e.code === JetStreamApiCodes.StreamNotFound);

/**
 * The dead letters, oldest first, read with an ordered consumer (ephemeral, no acks: it does
 * not change the stream).
 */
export async function listDeadLetters(js: JetStreamClient, n: Names, opts: ListDeadLettersOptions = {}): Promise<DlqRow[]> {
  const limit = opts.limit ?? Infinity;
  const jsm = await js.jetstreamManager();
  const si = await jsm.streams.info(n.streams.dlq);
  if (si.state.messages === 0) return [];
  const consumer = await js.consumers.get(n.streams.dlq, {
    filter_subjects: opts.consumer ? n.subjects.dlq(opts.consumer) : n.subjects.dlqAll,
    deliver_policy: DeliverPolicy.All,
  });
  const rows: DlqRow[] = [];
  try {
    while (rows.length < limit) {
      const batch = await consumer.fetch({ max_messages: Math.min(256, limit - rows.length), expires: 2000 });
      let got = 0;
      let last = false;
      for await (const m of batch) {
        got++;
        try {
          rows.push({ id: m.seq, ...parseDeadLetter(m.string()) });
        } catch {
          // Not ours (someone published by hand): shown as such, never replayed.
          rows.push({ id: m.seq, v: 1, stream: '?', subject: m.subject, seq: 0, consumer: m.subject.split('.').pop() ?? '?', deliveries: 0, error: 'unreadable dead letter', time: m.time.toISOString(), data: '' });
        }
        if (rows.length >= limit || m.info.pending === 0) {
          last = true;
          break;
        }
      }
      if (last || got === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return rows;
}

/** Reads one entry by its CHAT_DLQ sequence; null when it is gone (replayed or expired). */
export async function getDeadLetter(jsm: JetStreamManager, n: Names, id: number): Promise<DlqRow | null> {
  try {
    const sm = await jsm.streams.getMessage(n.streams.dlq, { seq: id });
    if (!sm) return null;
    return { id, ...parseDeadLetter(sm.string()) };
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

export type ReplayOutcome = 'replayed' | 'missing' | 'needs-rebuild';

export interface ReplayResult {
  id: number;
  consumer: string;
  outcome: ReplayOutcome;
  /** Where it was republished (replayed), or why it was not. */
  detail: string;
}

/** The Nats-Msg-Id of a replay: a replay retried after a crash (before the delete) is stored once. */
export const replayMsgId = (n: Names, id: number, original?: string): string => `${original ? `${original}+` : ''}replay:${n.streams.dlq}:${id}`;

/**
 * Replays dead letters:
 * - a live frame envelope (CHAT_DELIVERY) is republished, byte for byte with its headers, to
 *   its original subject; its Nats-Msg-Id becomes `<original id>+replay:<CHAT_DLQ>:<id>`, so a
 *   replay that is retried is queued once, and one made within the duplicate window of the
 *   original is not swallowed as a duplicate of it (commands are not stored, so there are no
 *   command dead letters; the client retries a command that failed);
 * - a projection's event (CHAT_EVENTS) is not republished: a new copy would get a new stream
 *   sequence and the projections would see it twice and out of order. The projection skipped
 *   it (the entry says `skipped`), so its read model is repaired by rebuilding it from the
 *   stream once the cause is fixed. With `rebuilt: true` (the operator confirms that rebuild)
 *   the entries are removed; otherwise they are left and reported as `needs-rebuild`.
 * Each replayed entry is then deleted from CHAT_DLQ. An entry already gone is `missing`.
 */
export async function replayDeadLetters(
  js: JetStreamClient,
  n: Names,
  ids: readonly number[],
  opts: { rebuilt?: boolean } = {},
): Promise<ReplayResult[]> {
  const jsm = await js.jetstreamManager();
  const out: ReplayResult[] = [];
  for (const id of ids) {
    const entry = await getDeadLetter(jsm, n, id);
    if (!entry) {
      out.push({ id, consumer: '?', outcome: 'missing', detail: 'no such entry (replayed already, or expired)' });
      continue;
    }
    if (entry.stream === n.streams.events) {
      if (!opts.rebuilt) {
        out.push({ id, consumer: entry.consumer, outcome: 'needs-rebuild', detail: `rebuild projection ${entry.consumer}, then replay with --rebuilt` });
        continue;
      }
      await deleteEntry(jsm, n, id);
      out.push({ id, consumer: entry.consumer, outcome: 'replayed', detail: `projection ${entry.consumer} rebuilt from the stream (seq ${entry.seq})` });
      continue;
    }
    if (entry.stream !== n.streams.delivery) {
      throw new Error(`dead letter ${id}: stream ${entry.stream} is not a stream of namespace "${n.ns}"`);
    }
    const h = natsHeaders();
    for (const [k, v] of Object.entries(entry.headers ?? {})) if (k !== 'Nats-Msg-Id') h.set(k, v);
    const msgID = replayMsgId(n, id, entry.headers?.['Nats-Msg-Id']);
    await js.publish(entry.subject, Buffer.from(entry.data, 'base64'), { msgID, headers: h });
    await deleteEntry(jsm, n, id);
    out.push({ id, consumer: entry.consumer, outcome: 'replayed', detail: `${entry.subject} (${msgID})` });
  }
  return out;
}

/** Every entry id (optionally of one consumer), for `dlq replay --all`. */
export async function deadLetterIds(js: JetStreamClient, n: Names, consumer?: string): Promise<number[]> {
  return (await listDeadLetters(js, n, consumer ? { consumer } : {})).map((r) => r.id);
}

async function deleteEntry(jsm: JetStreamManager, n: Names, id: number): Promise<void> {
  try {
    await jsm.streams.deleteMessage(n.streams.dlq, id, false);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
