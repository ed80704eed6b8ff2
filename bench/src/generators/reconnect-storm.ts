/**
 * Generator for the `reconnect-storm` scenario, in two roles (`role`):
 *
 * - `setup` (one process). Clients are grouped 100 to a group; each group has one sender (its
 *   owner, not counted among the clients).
 *   1. Connect every client; each sender creates its group; one warm-up message per group gives
 *      every client a stored cursor (from a live frame).
 *   2. Drop: every client closes. Once the edge shows them gone, each sender sends
 *      `messagesPerClient` messages to its group (all senders at once, each with `inFlight` sends
 *      in flight, retried with the same clientMsgId). Setup ends when the projector has consumed
 *      everything (JetStream consumer info: nothing pending). It writes the plan (users,
 *      cursors, conversations, the acknowledged seqs) to `planFile` and exits.
 * - `storm` (several processes, one shard of the clients each, so that no single event loop
 *   holding all of them decides when the edge sees their upgrades). 3. Each shard signs its
 *   clients' tokens, arrives at the start barrier, and when it is released every client
 *   reconnects at once (a new SDK client from its stored cursor, as an app restarting would) and
 *   runs `syncAll()`. A client is caught up once it has every message its sender got
 *   `message.sent` for; `lost` counts what is missing. Times are reported from the release
 *   (`nowMs`, comparable across processes); the shard then waits at the end barrier, so no
 *   client closes while another shard's are still catching up.
 *
 * args (setup): { role: 'setup', wsUrl, opsUrl, jwtSecret, natsUrl, ns, planFile, clients?, groupSize?, messagesPerClient?, inFlight?, runId?, localAddresses? }
 * args (storm): { role: 'storm', wsUrl, jwtSecret, planFile, shard, shards, startDir, endDir, localAddresses?, catchUpTimeoutMs? }
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats } from '@chat/nats';
import { names } from '@chat/contracts';
import type { ChatClient } from '@chat/client';
import { barrier, makeClient, nowMs, pool, progress, readArgs, retry, round, runMain, signToken, sleep } from './lib/common';
import { edgeConnections } from '../lib/edgeMetrics';

interface SetupArgs {
  role: 'setup';
  wsUrl: string;
  /** The edge's ops port (its /metrics). */
  opsUrl: string;
  jwtSecret: string;
  natsUrl: string;
  ns: string;
  planFile: string;
  clients?: number;
  groupSize?: number;
  messagesPerClient?: number;
  /** Sends in flight per sender. */
  inFlight?: number;
  runId?: string;
  localAddresses?: string[];
}

interface StormArgs {
  role: 'storm';
  wsUrl: string;
  jwtSecret: string;
  planFile: string;
  shard: number;
  shards: number;
  startDir: string;
  endDir: string;
  localAddresses?: string[];
  catchUpTimeoutMs?: number;
}

/** What the setup leaves for the storm shards. */
export interface StormPlan {
  userIds: string[];
  cursors: Array<string | null>;
  groupSize: number;
  conversations: string[];
  /** Per group, the seqs its sender got `message.sent` for. */
  acked: number[][];
}

/** One shard's storm, times in ms from the release. */
export interface StormShardResult {
  shard: number;
  clients: number;
  /** Per client: hello, and caught up (null: never). */
  helloMs: Array<number | null>;
  caughtUpMs: Array<number | null>;
  lost: number;
  clientsShort: number;
  clientsFailed: number;
  connectRetries: number;
  syncErrors: number;
  duplicatesDropped: number;
  /** From the release until this shard saw it. */
  releaseSeenMs: number;
  /** Creating the shard's clients: synchronous work before it could read a reply. */
  startLoopMs: number;
}

runMain(() => {
  const a = readArgs<SetupArgs | StormArgs>();
  return a.role === 'storm' ? storm(a) : setup(a);
});

async function setup(a: SetupArgs) {
  const N = a.clients ?? 5000;
  const groupSize = a.groupSize ?? 100;
  const perClient = a.messagesPerClient ?? 20;
  const inFlight = a.inFlight ?? perClient;
  const run = a.runId ?? Math.random().toString(36).slice(2, 8);
  const addrs = a.localAddresses?.length ? a.localAddresses : [undefined];
  const G = Math.ceil(N / groupSize);
  const userIds = Array.from({ length: N }, (_, i) => `rs${i}-${run}`);
  const senderIds = Array.from({ length: G }, (_, g) => `rsend${g}-${run}`);
  const groupOf = (i: number) => Math.floor(i / groupSize);
  const tokens = await Promise.all(userIds.map((u) => signToken(a.jwtSecret, u, 'd1')));
  const client = (i: number) => makeClient(a.wsUrl, tokens[i]!, { localAddress: addrs[i % addrs.length] });

  // 1. Connect, create the groups, give every client a cursor.
  const tSetup = nowMs();
  const senders = await pool(senderIds, 32, async (id) => {
    const c = makeClient(a.wsUrl, await signToken(a.jwtSecret, id, 'd1'));
    await retry(() => c.connect());
    return c;
  });
  let first: ChatClient[] = await pool(userIds, 100, async (_, i) => {
    const c = client(i);
    await retry(() => c.connect());
    if ((i + 1) % 1000 === 0) progress(`reconnect-storm: ${i + 1}/${N} connected`);
    return c;
  });
  const convs = await pool(senders, 16, async (s, g) => {
    const members = userIds.slice(g * groupSize, (g + 1) * groupSize);
    return (await s.createConversation({ kind: 'group', members, title: `storm ${g}` })).conversationId;
  });
  const warmSeen = new Array<boolean>(N).fill(false);
  let warmCount = 0;
  first.forEach((c, i) =>
    c.on('message', (f) => {
      if (f.conversationId === convs[groupOf(i)] && !warmSeen[i]) {
        warmSeen[i] = true;
        warmCount++;
      }
    }),
  );
  await pool(senders, 16, (s, g) => s.send({ conversationId: convs[g]!, body: { text: 'before the storm' } }));
  const warmDeadline = Date.now() + 60_000;
  while (warmCount < N && Date.now() < warmDeadline) await sleep(100);
  if (warmCount < N) {
    progress(`reconnect-storm: ${N - warmCount} clients missed the live warm-up; syncing them`);
    await pool(first.filter((_, i) => !warmSeen[i]), 50, (c) => c.syncAll());
  }
  const connectedSeconds = (nowMs() - tSetup) / 1000;
  progress(`reconnect-storm: ${N} clients in ${G} groups connected, each with a cursor (${connectedSeconds.toFixed(1)} s)`);

  // 2. Drop everyone, then fill their inboxes.
  const tDrop = nowMs();
  const cursors = first.map((c) => c.cursor);
  for (const c of first) c.close(1000, 'storm drill');
  first = [];
  const goneDeadline = Date.now() + 30_000;
  for (;;) {
    const n = await edgeConnections(a.opsUrl);
    if (n === null || n <= G || Date.now() > goneDeadline) break;
    await sleep(100);
  }
  const tOffline = nowMs();
  const acked: Array<Set<number>> = convs.map(() => new Set());
  let sendRetries = 0;
  let sendFailures = 0;
  await Promise.all(
    senders.map((s, g) =>
      pool(
        Array.from({ length: perClient }, (_, k) => k),
        inFlight,
        async (k) => {
          const clientMsgId = `storm-${run}-${g}-${k}`;
          for (let attempt = 0; ; attempt++) {
            try {
              const sent = await s.send({ conversationId: convs[g]!, clientMsgId, body: { text: `while you were away ${k}` } });
              acked[g]!.add(sent.seq);
              return;
            } catch (e) {
              if (attempt >= 5) {
                sendFailures++;
                progress(`reconnect-storm: send ${g}/${k} failed: ${(e as Error).message}`);
                return;
              }
              if (++sendRetries <= 5) progress(`reconnect-storm: send ${g}/${k} retried: ${(e as Error).name} ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
              await sleep(200 * (attempt + 1));
            }
          }
        },
      ),
    ),
  );
  const tSent = nowMs();
  const totalWaiting = acked.reduce((n, s, g) => n + s.size * Math.min(groupSize, N - g * groupSize), 0);
  progress(`reconnect-storm: ${acked.reduce((n, s) => n + s.size, 0)} messages acked (${totalWaiting} waiting deliveries) in ${((tSent - tOffline) / 1000).toFixed(1)} s`);
  // Wait for the projector (inboxes) to have consumed everything: its one durable `projector`
  // when the stream has it, else the messages projection's own.
  const nats = await connectNats(a.natsUrl, 'bench-reconnect-storm');
  const n = names(a.ns);
  const durables: string[] = [];
  for await (const ci of nats.jsm.consumers.list(n.streams.events)) durables.push(ci.name);
  const projector = durables.includes('projector') ? 'projector' : n.consumers.projMessages;
  const projDeadline = Date.now() + 300_000;
  for (;;) {
    // The projector re-creates its consumer after a failed batch: absent for a moment.
    const info = await nats.jsm.consumers.info(n.streams.events, projector).catch(() => null);
    if ((info && info.num_pending === 0 && info.num_ack_pending === 0) || Date.now() > projDeadline) break;
    await sleep(100);
  }
  await nats.nc.close();
  const tProjected = nowMs();
  progress(`reconnect-storm: projected ${((tProjected - tSent) / 1000).toFixed(1)} s after the last ack; storm now`);

  const plan: StormPlan = { userIds, cursors, groupSize, conversations: convs, acked: acked.map((s) => [...s]) };
  writeFileSync(a.planFile, JSON.stringify(plan));
  for (const s of senders) s.close();
  return {
    clients: N,
    groups: G,
    groupSize,
    messagesPerClient: perClient,
    waitingDeliveries: totalWaiting,
    tDrop,
    setup: {
      connectSeconds: round(connectedSeconds, 2),
      offlineSeconds: round((tOffline - tDrop) / 1000, 2),
      sendSeconds: round((tSent - tOffline) / 1000, 2),
      sendsPerSecond: Math.round(acked.reduce((n, s) => n + s.size, 0) / ((tSent - tOffline) / 1000)),
      projectionLagSeconds: round((tProjected - tSent) / 1000, 2),
      dropToReadySeconds: round((tProjected - tDrop) / 1000, 2),
      sendRetries,
      sendFailures,
    },
  };
}

async function storm(a: StormArgs): Promise<StormShardResult> {
  const plan = JSON.parse(readFileSync(a.planFile, 'utf8')) as StormPlan;
  const addrs = a.localAddresses?.length ? a.localAddresses : [undefined];
  // This shard's clients: every `shards`-th, so each shard holds a share of every group.
  const mine = plan.userIds.map((_, i) => i).filter((i) => i % a.shards === a.shard);
  const tokens = await Promise.all(mine.map((i) => signToken(a.jwtSecret, plan.userIds[i]!, 'd1')));
  const groupOf = (i: number) => Math.floor(i / plan.groupSize);
  const n = mine.length;
  const helloAt = new Array<number>(n).fill(NaN);
  const caughtUpAt = new Array<number>(n).fill(NaN);
  const got: Array<Set<number>> = mine.map(() => new Set());
  let connectRetries = 0;
  let syncErrors = 0;
  const clients: ChatClient[] = [];

  barrier.arrive(a.startDir, `shard-${a.shard}`);
  if (!(await barrier.waitReleased(a.startDir, 600_000, 2))) throw new Error('the storm was never released');
  const tSeen = nowMs();
  const tStorm = Number(readFileSync(join(a.startDir, 'release'), 'utf8'));
  const storm = mine.map(async (i, k) => {
    const c = makeClient(a.wsUrl, tokens[k]!, { cursor: plan.cursors[i] ?? null, localAddress: addrs[i % addrs.length] });
    clients[k] = c;
    const conv = plan.conversations[groupOf(i)]!;
    const want = new Set(plan.acked[groupOf(i)]!);
    c.on('message', (f) => {
      if (f.conversationId !== conv || !want.has(f.seq) || got[k]!.has(f.seq)) return;
      got[k]!.add(f.seq);
      if (got[k]!.size === want.size) caughtUpAt[k] = nowMs();
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await c.connect();
        break;
      } catch (e) {
        if (attempt >= 10) throw e;
        if (++connectRetries <= 3) progress(`reconnect-storm: connect retried: ${(e as Error).message}`);
        await sleep(Math.min(5_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
    helloAt[k] = nowMs();
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await c.syncAll();
        if (r === 'reset') throw new Error('sync.reset');
        return;
      } catch (e) {
        syncErrors++;
        if (attempt >= 5) throw e;
        await sleep(500);
      }
    }
  });
  const startLoopMs = nowMs() - tSeen;
  progress(`reconnect-storm: shard ${a.shard}: ${n} clients connecting (${Math.round(tSeen - tStorm)} ms after the release, ${Math.round(startLoopMs)} ms to start them)`);
  const settled = await Promise.race([Promise.allSettled(storm), sleep(a.catchUpTimeoutMs ?? 120_000).then(() => null)]);
  let failed = 0;
  if (settled)
    for (const r of settled)
      if (r.status === 'rejected') {
        failed++;
        progress(`reconnect-storm: client failed: ${String(r.reason)}`);
      }
  let lost = 0;
  let short = 0;
  mine.forEach((i, k) => {
    const missing = plan.acked[groupOf(i)]!.length - got[k]!.size;
    lost += missing;
    if (missing > 0) short++;
  });
  const since = (t: number) => (Number.isNaN(t) ? null : round(t - tStorm, 1));
  barrier.arrive(a.endDir, `shard-${a.shard}`);
  await barrier.waitReleased(a.endDir, 600_000, 20);
  const duplicatesDropped = clients.reduce((m, c) => m + (c?.stats.duplicatesDropped ?? 0), 0);
  for (const c of clients) c?.close();
  return {
    shard: a.shard,
    clients: n,
    helloMs: helloAt.map(since),
    caughtUpMs: caughtUpAt.map(since),
    lost,
    clientsShort: short,
    clientsFailed: settled ? failed : n - caughtUpAt.filter((t) => !Number.isNaN(t)).length,
    connectRetries,
    syncErrors,
    duplicatesDropped,
    releaseSeenMs: round(tSeen - tStorm, 1),
    startLoopMs: Math.round(startLoopMs),
  };
}
