/**
 * Micro-benchmark: the client's CPU per acknowledged JetStream publish, with nats.js's async
 * traces (its default: every request creates an Error up front to keep the caller's stack) and
 * without them (`noAsyncTraces`, what libs/nats connects with). Publishes `publishes` 200-byte
 * messages to a memory stream of its own with `window` in flight; counts the process's own CPU
 * (process.cpuUsage), so nats-server's share is not in it. Runs alternate, `rounds` of each,
 * after one warm-up round of each.
 *
 *   npx tsx bench/src/micro/js-publish.ts [publishes=40000] [window=64] [rounds=3]
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const [publishes, window, rounds] = [40_000, 64, 3].map((d, i) => Number(process.argv[i + 2] ?? d)) as [number, number, number];
const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const name = `MICRO_JS_PUBLISH_${process.pid}`;
const subject = `micro.js-publish.${process.pid}`;
const payload = 'x'.repeat(200);

const admin = await connect({ servers: url });
const jsm = await jetstreamManager(admin);
await jsm.streams.add({ name, subjects: [subject], storage: 'memory', max_msgs: 10_000 });

async function run(noAsyncTraces: boolean): Promise<number> {
  const nc = await connect({ servers: url, noAsyncTraces });
  const js = jetstream(nc);
  let started = 0;
  const before = process.cpuUsage();
  const worker = async () => {
    while (started < publishes) {
      started++;
      await js.publish(subject, payload);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const used = process.cpuUsage(before);
  await nc.close();
  return (used.user + used.system) / publishes;
}

try {
  const results: Record<'traces' | 'noAsyncTraces', number[]> = { traces: [], noAsyncTraces: [] };
  await run(false);
  await run(true);
  for (let r = 0; r < rounds; r++) {
    results.traces.push(await run(false));
    results.noAsyncTraces.push(await run(true));
  }
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');
  console.log(`µs of client CPU per acknowledged publish (${publishes} publishes, ${window} in flight, ${rounds} rounds each)`);
  console.log(`  async traces (nats.js default): ${fmt(results.traces)}`);
  console.log(`  noAsyncTraces:                  ${fmt(results.noAsyncTraces)}`);
} finally {
  await jsm.streams.delete(name).catch(() => undefined);
  await admin.close();
}
