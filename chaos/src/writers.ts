import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { names as namesFor, readEvent, type EventOf, type Names } from '@chat/contracts';
import { connectNats, isConcurrencyError, JetStreamEventStore, publisherFor, type EventStore, type Nats } from '@chat/nats';
import { readEvents } from '@chat/ops';
import { streamConfigs } from '@chat/streams';
import { SeqAudit } from './checker';
import { rng, type Rng } from './rng';
import { log, natsServerBinary, prepareRunDir, ROOT, startNatsCluster, waitFor, type NatsCluster } from './topology';

/*
 * Overlapping writers across leader changes: the server guarantee the command side rests on
 * (docs/reliability.md, "Partitioned writers", "Leader changes and the duplicate seq").
 *
 * Several writers, each with its own connection to a different node, append MessageSent events
 * to the same few conversations of an R3 CHAT_EVENTS, with no lease or fence between them: the
 * worst case of two partition owners overlapping. Each runs the command side's own code path:
 * `JetStreamEventStore` (load, append with Nats-Expected-Last-Subject-Sequence and a Nats-Msg-Id
 * per command, ConcurrencyError → reload and decide again), deciding seq = last seq + 1 from a
 * cached state as the aggregate cache does. Meanwhile the stream's leader is made to change
 * again and again: a leader stepdown, the leader's node killed (restarted seconds later), or
 * paused (SIGSTOP). Afterwards the stream is read back: no (conversation, seq) may be stored
 * twice, seqs must be 1..N per conversation, and every append a writer saw acknowledged must be
 * there.
 */

export interface WritersOptions {
  seed: number;
  writers: number;
  conversations: number;
  seconds: number;
  /** Pause between two leader changes, ms. */
  gapMs: [number, number];
  /** Writing goes on past `seconds` until the leader changed this often. */
  minLeaderChanges: number;
  portBase?: number;
  /** Run on a server older than the minimum (to compare with one), e.g. NATS_SERVER_BIN=/usr/sbin/nats-server. */
  allowOldServer?: boolean;
  keepData?: boolean;
  /** Write chaos/results/ (default true; the test prints instead). */
  writeResults?: boolean;
}

export interface WritersSummary {
  natsServer: string;
  writers: number;
  conversations: number;
  seconds: number;
  /** Appends acknowledged to a writer (including a duplicate ack of an earlier attempt of the same command). */
  acked: number;
  /** Appends refused because the conversation had moved on (10071/10164), then decided again. */
  conflicts: number;
  /** Appends with no answer (timeout, no leader), retried with the same command id. */
  unanswered: number;
  leaderChanges: Record<'stepdown' | 'kill' | 'pause', number>;
  events: number;
  duplicates: number;
  seqGaps: number;
  lost: number;
  ok: boolean;
  examples: string[];
  seed: number;
}

export function writersDefaults(seed = 7): WritersOptions {
  return { seed, writers: 4, conversations: 6, seconds: 60, gapMs: [2_000, 5_000], minLeaderChanges: 5 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One writer: a command-side process with no lease, appending to any conversation. */
async function writer(
  id: number,
  store: EventStore,
  n: Names,
  conversations: string[],
  r: Rng,
  run: { writing: boolean },
  stats: { acked: Set<string>; conflicts: number; unanswered: number },
): Promise<void> {
  const cache = new Map<string, { seq: number; lastSubjectSeq: number }>();
  const refresh = async (conv: string) => {
    const known = cache.get(conv) ?? { seq: 0, lastSubjectSeq: 0 };
    const loaded = await store.load(n.subjects.evtConv(conv), known.lastSubjectSeq);
    const seq = loaded.events.reduce((s, e) => ('seq' in e ? Math.max(s, e.seq) : s), known.seq);
    const state = { seq, lastSubjectSeq: loaded.lastSubjectSeq };
    cache.set(conv, state);
    return state;
  };
  for (let k = 0; run.writing; k++) {
    const conv = conversations[r.int(conversations.length)]!;
    const commandId = `w${id}-${k}`;
    // One command: decided on the cached state, appended, decided again after a conflict; an
    // append with no answer may have been stored, so it is retried with the same command id.
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        const state = cache.get(conv) ?? (await refresh(conv));
        const event: EventOf<'MessageSent'> = {
          type: 'MessageSent',
          v: 1,
          conversationId: conv,
          messageId: commandId,
          seq: state.seq + 1,
          senderId: `writer-${id}`,
          senderDeviceId: 'd',
          clientMsgId: commandId,
          body: { text: `${commandId} attempt ${attempt}` },
          sentAt: new Date().toISOString(),
        };
        const last = await store.append(n.subjects.evtConv(conv), [event], state.lastSubjectSeq, commandId);
        cache.set(conv, { seq: event.seq, lastSubjectSeq: last });
        stats.acked.add(commandId);
        break;
      } catch (e) {
        if (isConcurrencyError(e)) {
          if (e.reason === 'duplicate') {
            // An earlier attempt of this command was stored: it is done.
            stats.acked.add(commandId);
            cache.delete(conv);
            break;
          }
          stats.conflicts++;
        } else {
          stats.unanswered++;
          await sleep(100 + r.int(200));
        }
        cache.delete(conv);
      }
    }
  }
}

async function streamLeader(nats: Nats, stream: string): Promise<number | undefined> {
  const si = await nats.jsm.streams.info(stream).catch(() => undefined);
  const leader = si?.cluster?.leader;
  return leader ? Number(leader.slice(1)) - 1 : undefined;
}

/**
 * Changes the stream's leader (a stepdown, or its node killed or paused for a few seconds)
 * until `seconds` have passed and it changed at least `minLeaderChanges` times; then ends the
 * writing.
 */
async function disruptLeaders(cluster: NatsCluster, nats: Nats, stream: string, o: WritersOptions, r: Rng, run: { writing: boolean }, counts: WritersSummary['leaderChanges']): Promise<void> {
  const kinds = ['stepdown', 'kill', 'pause'] as const;
  const until = Date.now() + o.seconds * 1_000;
  const changes = () => counts.stepdown + counts.kill + counts.pause;
  while (Date.now() < until || changes() < o.minLeaderChanges) {
    await sleep(r.between(o.gapMs[0], o.gapMs[1]));
    const leader = await streamLeader(nats, stream);
    if (leader === undefined || [0, 1, 2].some((i) => !cluster.up(i))) continue;
    const kind = kinds[r.int(kinds.length)]!;
    counts[kind]++;
    log(`leader change: ${kind} n${leader + 1}`);
    if (kind === 'stepdown') {
      await nats.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, '', { timeout: 5_000 }).catch(() => undefined);
    } else if (kind === 'kill') {
      await cluster.kill(leader);
      await sleep(r.between(1_000, 4_000));
      await cluster.start(leader);
    } else {
      cluster.stop(leader);
      await sleep(r.between(1_000, 4_000));
      cluster.cont(leader);
    }
  }
  run.writing = false;
}

export async function runWriters(o: WritersOptions): Promise<WritersSummary> {
  const r = rng(o.seed);
  const run = await prepareRunDir(o.portBase ?? 24000);
  const cluster = await startNatsCluster(run, natsServerBinary(process.env, { allowOld: o.allowOldServer === true }));
  const n = namesFor('writers');
  const connect = (i: number, name: string) =>
    // Each connection prefers its own node and moves to the others when it is down.
    connectNats([...cluster.urls.slice(i % 3), ...cluster.urls.slice(0, i % 3)].join(','), name, { onOldServer: (m) => log(m) });
  const events = streamConfigs(n, { replicas: 3, maxAgeMs: 86_400_000 })[0]!;
  // A new cluster answers JetStream requests once it has elected its meta leader.
  let admin: Nats | undefined;
  await waitFor('JetStream cluster to accept an R3 stream', async () => {
    admin ??= await connect(0, 'writers-admin');
    await admin.jsm.streams.add(events);
    return true;
  });
  if (!admin) throw new Error('no connection');
  const conversations = Array.from({ length: o.conversations }, (_, i) => `c${i + 1}`);
  const conns = await Promise.all(Array.from({ length: o.writers }, (_, i) => connect(i, `writer-${i}`)));
  const stats = { acked: new Set<string>(), conflicts: 0, unanswered: 0 };
  const leaderChanges = { stepdown: 0, kill: 0, pause: 0 };
  const running = { writing: true };
  const started = Date.now();
  log(`writers: ${o.writers} writers on ${o.conversations} conversations for ${o.seconds} s, nats-server ${cluster.version}`);
  await Promise.all([
    ...conns.map((c, i) => writer(i, new JetStreamEventStore(c.js, c.jsm, events.name, publisherFor(c.nc)), n, conversations, rng(o.seed * 31 + i), running, stats)),
    disruptLeaders(cluster, admin, events.name, o, r, running, leaderChanges),
  ]);
  const seconds = Math.round((Date.now() - started) / 1_000);
  log(`writers: done after ${seconds} s; reading the stream back`);
  for (let i = 0; i < 3; i++) if (!cluster.up(i)) cluster.cont(i);

  // Read the stream back (an ordered consumer; retried while the cluster settles).
  let audit: SeqAudit | undefined;
  let count = 0;
  for (let attempt = 0; !audit; attempt++) {
    try {
      const readBack = new SeqAudit();
      let c = 0;
      for await (const rec of readEvents(admin.js, n)) {
        readBack.add(rec.seq, readEvent(rec.event));
        c++;
      }
      audit = readBack;
      count = c;
    } catch (e) {
      if (attempt > 20) throw e;
      await sleep(1_000);
    }
  }
  const result = audit.result();
  const stored = audit.clientMsgIds();
  const lost = [...stats.acked].filter((id) => !stored.has(id));
  await Promise.all([admin, ...conns].map((c) => c.nc.close().catch(() => undefined)));
  await cluster.shutdown(!o.keepData);
  run.closeLogs();

  const summary: WritersSummary = {
    natsServer: cluster.version,
    writers: o.writers,
    conversations: o.conversations,
    seconds,
    acked: stats.acked.size,
    conflicts: stats.conflicts,
    unanswered: stats.unanswered,
    leaderChanges,
    events: count,
    duplicates: result.duplicateSeqs,
    seqGaps: result.gaps,
    lost: lost.length,
    ok: result.duplicateSeqs === 0 && result.gaps === 0 && lost.length === 0 && stats.acked.size > 0,
    examples: [...result.examples, ...lost.slice(0, 5).map((id) => `acknowledged but not stored: ${id}`)],
    seed: o.seed,
  };
  if (o.writeResults !== false) {
    const dir = resolve(ROOT, 'chaos/results');
    mkdirSync(dir, { recursive: true });
    const json = `${JSON.stringify(summary, null, 2)}\n`;
    writeFileSync(resolve(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-writers.json`), json);
    writeFileSync(resolve(dir, 'latest-writers.json'), json);
  }
  return summary;
}
