/**
 * Raw NATS figures on the same server, for scale: JetStream publish with acks into a file
 * stream configured like CHAT_EVENTS (bounded window of async publishes, ~200-byte payload),
 * and core NATS pub/sub (one publisher connection, one subscriber connection).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Histogram, round } from '../lib/histogram';
import { generatorArgs, progress, runMain } from '../lib/generator';

interface Args {
  natsUrl: string;
  seconds: number;
  /** Async JetStream publishes in flight at once (default 256). */
  window?: number;
  payloadBytes?: number;
}

async function jetstreamPublish(nc: NatsConnection, a: Args) {
  const name = `bench${randomBytes(4).toString('hex')}_CHAT_EVENTS`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name,
    subjects: [`${name}.evt.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
    deny_delete: true,
    duplicate_window: 2 * 60 * 1_000_000_000,
  });
  try {
    const js = jetstream(nc);
    const payload = randomBytes(Math.ceil((a.payloadBytes ?? 200) / 2)).toString('hex').slice(0, a.payloadBytes ?? 200);
    const window = a.window ?? 256;
    const ack = new Histogram();
    let acked = 0;
    let errors = 0;
    let i = 0;
    const start = performance.now();
    const end = start + a.seconds * 1000;
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          try {
            // 1,000 conversations, like many aggregates appending concurrently.
            await js.publish(`${name}.evt.conv.c${i++ % 1000}`, payload);
            acked++;
            ack.record(performance.now() - t);
          } catch {
            errors++;
          }
        }
      }),
    );
    const secs = (performance.now() - start) / 1000;
    return { perSec: Math.round(acked / secs), window, payloadBytes: payload.length, ackMs: ack.summary(), errors };
  } finally {
    await jsm.streams.delete(name).catch(() => undefined);
  }
}

async function corePubSub(a: Args) {
  const subject = `bench.core.${randomBytes(4).toString('hex')}`;
  const sub = await connect({ servers: a.natsUrl.split(','), name: 'bench-core-sub' });
  const pub = await connect({ servers: a.natsUrl.split(','), name: 'bench-core-pub' });
  try {
    let received = 0;
    let inWindow = true;
    sub.subscribe(subject, {
      callback: () => {
        if (inWindow) received++;
      },
    });
    await sub.flush();
    const payload = new TextEncoder().encode('x'.repeat(a.payloadBytes ?? 200));
    const start = performance.now();
    const end = start + a.seconds * 1000;
    let published = 0;
    while (performance.now() < end) {
      for (let k = 0; k < 1000; k++) pub.publish(subject, payload);
      published += 1000;
      // Keep the publisher roughly paced with the server (no unbounded client buffer).
      await pub.flush();
    }
    await pub.flush();
    await sub.flush();
    inWindow = false;
    const secs = (performance.now() - start) / 1000;
    return { perSec: Math.round(received / secs), publishedPerSec: Math.round(published / secs), payloadBytes: payload.length };
  } finally {
    await pub.close();
    await sub.close();
  }
}

async function main() {
  const a = generatorArgs<Args>();
  const nc = await connect({ servers: a.natsUrl.split(','), name: 'bench-baseline' });
  const natsServer = nc.info?.version ?? null;
  progress(`JetStream publish (file stream, window ${a.window ?? 256}) for ${a.seconds} s`);
  const js = await jetstreamPublish(nc, a);
  progress(`JetStream publish: ${js.perSec} msg/s (ack p50 ${js.ackMs.p50} ms, p99 ${js.ackMs.p99} ms)`);
  await nc.close();
  progress(`core NATS pub/sub for ${a.seconds} s`);
  const core = await corePubSub(a);
  progress(`core pub/sub: ${core.perSec} msg/s`);
  return { natsServer, jetstreamPublishPerSec: js.perSec, corePubSubPerSec: core.perSec, jetstreamPublish: js, corePubSub: { ...core, seconds: round(a.seconds) } };
}

runMain(main);
