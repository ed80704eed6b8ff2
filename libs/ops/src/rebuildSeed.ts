import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager, type StreamState } from '@nats-io/jetstream';
import { aggregateSubjectParser, readStoredEvent, Snapshot, type Names, type StoredEvent } from '@chat/contracts';
import { snapshotsBucket } from '@chat/streams';
import { emptyRebuildSeed, planRebuildSeed, scanRequests, type RebuildSeed, type RebuildSnapshots, type ScannedEvents, type StreamBounds } from '@chat/postgres';

/**
 * Reads what a rebuild restores besides CHAT_EVENTS (see rebuildSeed.ts): the snapshots in
 * CHAT_SNAPSHOTS and, for the few subjects that need it, their events still in the stream.
 * Reads only; the rebuild writes the result in its transaction.
 */

const isNotFound = (e: unknown): boolean => e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound;

/** The stream's first and last sequences and the first message's time; an empty stream starts after its last. */
export function streamBounds(state: Pick<StreamState, 'first_seq' | 'first_ts' | 'last_seq' | 'messages'>): StreamBounds {
  if (state.messages === 0) return { firstSeq: state.last_seq + 1, firstTsMs: null, lastSeq: state.last_seq };
  const ts = Date.parse(state.first_ts);
  return { firstSeq: state.first_seq, firstTsMs: Number.isNaN(ts) ? null : ts, lastSeq: state.last_seq };
}

/**
 * Every snapshot in the bucket (the last value of each key, one pass over the bucket's stream);
 * keys that are not a snapshot's subject (the keeper's position) are not read. Null when the
 * bucket does not exist.
 */
export async function readSnapshots(js: JetStreamClient, jsm: JetStreamManager, names: Names, replicas = 1): Promise<RebuildSnapshots | null> {
  const bucket = snapshotsBucket(names, { replicas }).name;
  try {
    await jsm.streams.info(`KV_${bucket}`);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
  // The bucket's stream is read directly (the last value of every key in one ordered pass)
  // rather than a KV get per key: a system has a snapshot per conversation and member.
  const { stream, prefix } = { stream: `KV_${bucket}`, prefix: `$KV.${bucket}.` };
  const out: RebuildSnapshots = { conversations: [], receipts: [], preferences: [], users: [], invalid: [] };
  const parse = aggregateSubjectParser(names);
  const s = names.subjects;
  // The last value of each key; a key written again while this reads arrives again (the later
  // value wins), one deleted meanwhile goes.
  const latest = new Map<string, unknown>();
  const consumer = await js.consumers.get(stream, {
    filter_subjects: [s.evtConvAll, s.evtRcptAll, s.prefAll].map((f) => prefix + f),
    deliver_policy: DeliverPolicy.LastPerSubject,
  });
  try {
    if ((await consumer.info(true)).num_pending > 0) {
      const messages = await consumer.consume({ max_messages: 1000 });
      try {
        for await (const m of messages) {
          const op = m.headers?.get('KV-Operation');
          const key = m.subject.slice(prefix.length);
          if (op === 'DEL' || op === 'PURGE') latest.delete(key);
          else {
            let json: unknown;
            try {
              json = m.json();
            } catch {
              json = undefined;
            }
            latest.set(key, json);
          }
          if (m.info.pending === 0) break;
        }
      } finally {
        await messages.close();
      }
    }
  } finally {
    consumer.delete().catch(() => undefined);
  }
  for (const [key, json] of latest) {
    const at = parse(key);
    if (!at) continue;
    const parsed = Snapshot.safeParse(json);
    const snap = parsed.success ? parsed.data : undefined;
    if (snap?.kind === 'conversation' && at.kind === 'conversation' && snap.state.conversationId === at.conversationId) {
      // Every snapshot is held until the rebuild writes: its client-id records (the
      // idempotency window) are not needed, only its message records.
      out.conversations.push({ subject: key, snapshot: { ...snap, state: { ...snap.state, sent: [] } } });
    } else if (snap?.kind === 'receipt' && at.kind === 'receipt') out.receipts.push({ subject: key, conversationId: at.conversationId, userId: at.userId, snapshot: snap });
    else if (snap?.kind === 'preference' && at.kind === 'preference') out.preferences.push({ subject: key, conversationId: at.conversationId, userId: at.userId, snapshot: snap });
    else if (snap?.kind === 'user' && at.kind === 'user') out.users.push({ subject: key, userId: at.userId, snapshot: snap });
    else out.invalid.push(key);
  }
  return out;
}

/** Above this many subjects the stream is read through the wildcards (one filter) rather than one filter per subject. */
const MAX_FILTERS = 256;

/** The events of `wanted` (subject → up to which stream sequence) from `fromSeq` on, in stream order. */
export async function scanSubjects(js: JetStreamClient, names: Names, fromSeq: number, wanted: ReadonlyMap<string, number>): Promise<ScannedEvents> {
  const out = new Map<string, Array<{ streamSeq: number; event: StoredEvent }>>();
  if (wanted.size === 0) return out;
  const until = Math.max(...wanted.values());
  if (until < fromSeq) return out;
  const consumer = await js.consumers.get(names.streams.events, {
    filter_subjects: wanted.size <= MAX_FILTERS ? [...wanted.keys()] : [names.subjects.evtAll],
    ...(fromSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq } : { deliver_policy: DeliverPolicy.All }),
  });
  try {
    if ((await consumer.info(true)).num_pending === 0) return out;
    const messages = await consumer.consume({ max_messages: 1000 });
    try {
      for await (const m of messages) {
        const upTo = wanted.get(m.subject);
        if (upTo !== undefined && m.seq <= upTo) {
          const list = out.get(m.subject) ?? out.set(m.subject, []).get(m.subject)!;
          list.push({ streamSeq: m.seq, event: readStoredEvent(m.json()) });
        }
        if (m.seq >= until || m.info.pending === 0) break;
      }
    } finally {
      await messages.close();
    }
  } finally {
    consumer.delete().catch(() => undefined);
  }
  return out;
}

/**
 * What a rebuild seeds (RebuildSeed), read now: CHAT_EVENTS' bounds first, then the snapshots
 * (a snapshot written meanwhile covers more, never less), then the events of the subjects that
 * need them. Without a snapshot bucket, an empty seed: the rebuild restores what the stream has.
 *
 * The projector replays the stream after the rebuild: events that age out between this read and
 * the projector's start are lost to the rebuild (as they are to a rebuild without snapshots).
 */
export async function loadRebuildSeed(nats: { js: JetStreamClient; jsm: JetStreamManager }, names: Names, opts: { replicas?: number } = {}): Promise<RebuildSeed> {
  const bounds = streamBounds((await nats.jsm.streams.info(names.streams.events)).state);
  const snaps = await readSnapshots(nats.js, nats.jsm, names, opts.replicas ?? 1);
  if (!snaps) return emptyRebuildSeed(bounds);
  const scanned = await scanSubjects(nats.js, names, bounds.firstSeq, scanRequests(snaps, bounds));
  return planRebuildSeed(snaps, bounds, scanned);
}
