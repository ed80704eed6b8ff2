/**
 * Micro-benchmark: nats-server's CPU per message that is published, delivered and acknowledged
 * on a file stream that is empty between messages, as `CHAT_DELIVERY` is at steady load (the
 * projector publishes a batch's frames for an edge, the edge acks them, nothing waits). Two
 * streams of the same shape (file storage, 5 min max age, a durable pull consumer with explicit
 * acks) differ only in retention: `workqueue` removes a message when it is acknowledged,
 * `limits` keeps it until its max age. Each message: publish (await the stream's ack), fetch
 * one, ack it and wait for the server's confirmation (`ackAck`), so every message is one full
 * cycle and the stream is empty again before the next. Counts nats-server's CPU from
 * /proc/<pid>/stat (the process listening on NATS_URL's port) and the client's own; rounds
 * alternate after one warm-up round of each.
 *
 *   npx tsx bench/src/micro/js-queue-ack.ts [messages=3000] [rounds=3]
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { findListener, readStat, urlHostPorts } from '../lib/pids';

const [messages, rounds] = [3_000, 3].map((d, i) => Number(process.argv[i + 2] ?? d)) as [number, number];
const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const [{ host, port }] = urlHostPorts(url, 4222) as [{ host: string; port: number }];
const serverPid = findListener(host, port).pids[0];
if (!serverPid) throw new Error(`no nats-server process found listening on ${host}:${port}`);
const ticksPerSecond = 100;
const serverCpuUs = (): number => {
  const s = readStat(serverPid);
  if (!s) throw new Error(`cannot read /proc/${serverPid}/stat`);
  return ((s.utime + s.stime) * 1e6) / ticksPerSecond;
};

const nc = await connect({ servers: url, noAsyncTraces: true });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc);
const payload = 'x'.repeat(600);
const kinds = { workqueue: RetentionPolicy.Workqueue, limits: RetentionPolicy.Limits } as const;
type Kind = keyof typeof kinds;
const name = (k: Kind) => `MICRO_QUEUE_ACK_${k.toUpperCase()}_${process.pid}`;
const subject = (k: Kind) => `micro.queue-ack.${process.pid}.${k}`;

for (const k of Object.keys(kinds) as Kind[]) {
  await jsm.streams.add({ name: name(k), subjects: [subject(k)], storage: StorageType.File, retention: kinds[k], max_age: 5 * 60 * 1e9 });
  await jsm.consumers.add(name(k), { durable_name: 'edge', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: subject(k) });
}

async function run(k: Kind, n: number): Promise<{ server: number; client: number }> {
  const consumer = await js.consumers.get(name(k), 'edge');
  const server0 = serverCpuUs();
  const client0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    await js.publish(subject(k), payload);
    const m = await consumer.next({ expires: 5_000 });
    if (!m) throw new Error(`${k}: message ${i} was not delivered`);
    await m.ackAck();
  }
  const c = process.cpuUsage(client0);
  return { server: (serverCpuUs() - server0) / n, client: (c.user + c.system) / n };
}

try {
  const results: Record<Kind, Array<{ server: number; client: number }>> = { workqueue: [], limits: [] };
  await run('workqueue', Math.min(500, messages));
  await run('limits', Math.min(500, messages));
  for (let r = 0; r < rounds; r++) {
    results.workqueue.push(await run('workqueue', messages));
    results.limits.push(await run('limits', messages));
  }
  const fmt = (xs: Array<{ server: number; client: number }>) => xs.map((x) => `${x.server.toFixed(0)} (client ${x.client.toFixed(0)})`).join(' / ');
  console.log(`µs of nats-server CPU per published, delivered and acknowledged message on an otherwise empty file stream (${messages} messages, ${rounds} rounds each; nats-server pid ${serverPid})`);
  console.log(`  workqueue (removed on ack): ${fmt(results.workqueue)}`);
  console.log(`  limits (kept to max age):   ${fmt(results.limits)}`);
} finally {
  for (const k of Object.keys(kinds) as Kind[]) await jsm.streams.delete(name(k)).catch(() => undefined);
  await nc.close();
}
