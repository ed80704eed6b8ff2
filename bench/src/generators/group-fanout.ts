/**
 * Generator for the `group-fanout` scenario: connects every member of one group (all in this
 * process), creates the group, then sends from the owner at a fixed rate (open loop: one send
 * every 1000/rate ms whatever the answers do) and times, per message, send → first member and
 * send → last member. The delivery stream's last sequence is read before and after, so the
 * publishes per message come from JetStream itself.
 *
 * args: { wsUrl, jwtSecret, natsUrl, ns, members?, rate?, durationSec?, runId?, connectConcurrency? }
 */
import { loadavg } from 'node:os';
import { connectNats } from '@chat/nats';
import { names } from '@chat/contracts';
import type { ChatClient } from '@chat/client';
import { makeClient, nowMs, pool, progress, readArgs, retry, round, runMain, signToken, sleep, summary } from './lib/common';

interface Args {
  wsUrl: string | string[];
  jwtSecret: string;
  natsUrl: string;
  ns: string;
  members?: number;
  rate?: number;
  durationSec?: number;
  runId?: string;
  connectConcurrency?: number;
  /** How long to wait for the last messages after the last send. */
  drainTimeoutMs?: number;
}

runMain(async () => {
  const a = readArgs<Args>();
  const membersN = a.members ?? 1024;
  const rate = a.rate ?? 10;
  const durationSec = a.durationSec ?? 20;
  const run = a.runId ?? Math.random().toString(36).slice(2, 8);
  const urls = Array.isArray(a.wsUrl) ? a.wsUrl : [a.wsUrl];
  const ids = Array.from({ length: membersN }, (_, i) => `gf${i}-${run}`);

  const tConnect = nowMs();
  const clients: ChatClient[] = await pool(ids, a.connectConcurrency ?? 64, async (id, i) => {
    const c = makeClient(urls[i % urls.length]!, await signToken(a.jwtSecret, id, 'd1'));
    await retry(() => c.connect());
    if ((i + 1) % 256 === 0) progress(`group-fanout: ${i + 1}/${membersN} connected`);
    return c;
  });
  const connectSeconds = (nowMs() - tConnect) / 1000;
  progress(`group-fanout: ${membersN} members connected in ${connectSeconds.toFixed(1)} s`);

  const [owner, ...members] = clients as [ChatClient, ...ChatClient[]];
  const { conversationId } = await owner.createConversation({ kind: 'group', members: ids.slice(1), title: `fanout ${run}` });

  const count = new Map<number, number>();
  const firstAt = new Map<number, number>();
  const lastAt = new Map<number, number>();
  const done = new Map<number, () => void>();
  for (const m of members) {
    m.on('message', (f) => {
      if (f.conversationId !== conversationId) return;
      const t = nowMs();
      const n = (count.get(f.seq) ?? 0) + 1;
      count.set(f.seq, n);
      if (n === 1) firstAt.set(f.seq, t);
      lastAt.set(f.seq, t);
      if (n === members.length) done.get(f.seq)?.();
    });
  }
  const allReceived = (seq: number, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      if ((count.get(seq) ?? 0) >= members.length) return resolve(true);
      const timer = setTimeout(() => {
        done.delete(seq);
        resolve(false);
      }, timeoutMs);
      done.set(seq, () => {
        clearTimeout(timer);
        done.delete(seq);
        resolve(true);
      });
    });

  // Warm-up: the group is projected and every member's route is known.
  for (let i = 0; i < 3; i++) {
    const w = await owner.send({ conversationId, body: { text: `warm-up ${i}` } });
    if (!(await allReceived(w.seq, 60_000))) throw new Error(`warm-up ${i}: only ${count.get(w.seq) ?? 0}/${members.length} members received it`);
  }
  progress('group-fanout: warm-up delivered to every member');

  const nats = await connectNats(a.natsUrl, 'bench-group-fanout');
  const deliveryStream = names(a.ns).streams.delivery;
  const deliverySeq = async () => (await nats.jsm.streams.info(deliveryStream)).state.last_seq;
  const publishesBefore = await deliverySeq();

  const total = Math.max(1, Math.round(rate * durationSec));
  const intervalMs = 1000 / rate;
  const sentAt = new Map<number, number>(); // seq → send time
  const ackMs: number[] = [];
  const sends: Array<Promise<void>> = [];
  let failed = 0;
  let maxScheduleLagMs = 0;
  const load0 = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  const windowFrom = Date.now();
  const tStart = nowMs();
  for (let i = 0; i < total; i++) {
    const due = tStart + i * intervalMs;
    const wait = due - nowMs();
    if (wait > 0) await sleep(wait);
    const t0 = nowMs();
    maxScheduleLagMs = Math.max(maxScheduleLagMs, t0 - due);
    sends.push(
      owner.send({ conversationId, body: { text: `announcement ${i}` } }).then(
        (s) => {
          sentAt.set(s.seq, t0);
          ackMs.push(nowMs() - t0);
        },
        (e: unknown) => {
          failed++;
          progress(`group-fanout: send ${i} failed: ${(e as Error).message}`);
        },
      ),
    );
    if ((i + 1) % (rate * 5) === 0) progress(`group-fanout: ${i + 1}/${total} sent`);
  }
  await Promise.all(sends);
  const seqs = [...sentAt.keys()].sort((x, y) => x - y);
  const complete = await Promise.all(seqs.map((s) => allReceived(s, a.drainTimeoutMs ?? 30_000)));
  const elapsedSec = (nowMs() - tStart) / 1000;
  const windowTo = Date.now();
  const cpu = process.cpuUsage(cpu0);
  // Let trailing list updates (conversation.activity) land before counting publishes.
  await sleep(500);
  const publishes = (await deliverySeq()) - publishesBefore;
  await nats.nc.close();

  const all: number[] = [];
  const first: number[] = [];
  const spread: number[] = [];
  let incomplete = 0;
  seqs.forEach((s, k) => {
    if (!complete[k]) incomplete++;
    else {
      all.push(lastAt.get(s)! - sentAt.get(s)!);
      spread.push(lastAt.get(s)! - firstAt.get(s)!);
    }
    if (firstAt.has(s)) first.push(firstAt.get(s)! - sentAt.get(s)!);
  });
  let missingDeliveries = 0;
  for (const s of seqs) missingDeliveries += members.length - Math.min(members.length, count.get(s) ?? 0);
  for (const c of clients) c.close();

  return {
    members: membersN,
    receivers: members.length,
    messages: seqs.length,
    rate,
    durationSec,
    failedSends: failed,
    incompleteMessages: incomplete,
    missingDeliveries,
    allMembersMs: summary(all),
    firstMemberMs: summary(first),
    /** First member → last member: the edge's own fan-out time. */
    spreadMs: summary(spread),
    sentAckMs: summary(ackMs),
    deliveryPublishes: publishes,
    deliveryPublishesPerMessage: round(publishes / Math.max(1, seqs.length), 2),
    connectSeconds: round(connectSeconds, 2),
    maxScheduleLagMs: round(maxScheduleLagMs),
    /** Machine load (1-min average) before and after the measured window: other work on the machine skews the figures. */
    loadAvg1m: { before: round(load0, 2), after: round(loadavg()[0]!, 2) },
    /** Epoch ms of the first send and of the last message's last delivery: the window the scenario's CPU figures cover. */
    windowEpochMs: { from: windowFrom, to: windowTo },
    generatorCpuPercent: round(((cpu.user + cpu.system) / 1000 / (elapsedSec * 1000)) * 100),
  };
});
