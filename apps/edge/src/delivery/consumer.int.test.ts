import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { RetentionPolicy } from '@nats-io/jetstream';
import pino from 'pino';
import { names, ROUTED_THROUGH_HEADER, type DeliveryEnvelope } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { applyStreams, edgeConsumerConfig, ensureConsumerWhenStreamExists, streamConfigs } from '@chat/streams';
import { DeliveryConsumer } from './consumer';
import type { HubFanOut } from './fanOut';

const settings = { replicas: 1, maxAgeMs: 30 * 86_400_000 };
const log = pino({ level: 'silent' });
let nats: Nats;
const namespaces: Array<ReturnType<typeof names>> = [];

beforeAll(async () => {
  nats = await connectNats(inject('chatEnv')['NATS_URL']!, 'delivery-consumer-test');
});
afterAll(async () => {
  for (const n of namespaces) for (const s of Object.values(n.streams)) await nats.jsm.streams.delete(s).catch(() => undefined);
  await nats?.nc.close();
});

const envelope = (ref: string): DeliveryEnvelope => ({ users: ['bob'], frame: { type: 'pong', ref } });

/** An edge's delivery consumer on a namespace of its own, recording what it hands to the hub. */
async function edge(opts: { workQueue?: boolean } = {}) {
  const n = names(`dc${Math.random().toString(36).slice(2, 8)}`);
  namespaces.push(n);
  const { stream, config } = edgeConsumerConfig(n, 'e1');
  if (opts.workQueue) {
    // CHAT_DELIVERY as an earlier version made it.
    await nats.jsm.streams.add({ ...streamConfigs(n, settings).find((c) => c.name === stream)!, retention: RetentionPolicy.Workqueue });
    await nats.jsm.consumers.add(stream, config);
  } else {
    await applyStreams(nats.jsm, n, settings, ['e1']);
  }
  const refs: string[] = [];
  const through: number[] = [];
  const hub = { deliver: (env: DeliveryEnvelope) => refs.push((env.frame as { ref: string }).ref) } as unknown as HubFanOut;
  const consumer = new DeliveryConsumer(nats.js, stream, config.durable_name, hub, log, { names: n }, (seq) => through.push(seq), () =>
    ensureConsumerWhenStreamExists(nats.jsm, stream, config, () => undefined, 50),
  );
  await consumer.start();
  const publish = (ref: string, routedThrough?: number) => {
    const h = natsHeaders();
    if (routedThrough) h.set(ROUTED_THROUGH_HEADER, String(routedThrough));
    return nats.js.publish(n.subjects.dlv('e1'), JSON.stringify([envelope(ref)]), { headers: h });
  };
  /** Waits until `ref` reached the hub; the test fails (with what did arrive) after `ms`. */
  const arrived = async (ref: string, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!refs.includes(ref) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(refs).toContain(ref);
  };
  return { n, stream, config, consumer, refs, through, publish, arrived };
}

describe('the edge delivery consumer', () => {
  it('hands each envelope to the hub, acknowledges it and reports how far routing got', async () => {
    const e = await edge();
    await e.publish('a');
    await e.publish('b', 42);
    await e.arrived('b');
    expect(e.refs).toEqual(['a', 'b']);
    expect(e.through).toEqual([42]);
    const deadline = Date.now() + 5_000;
    while ((await nats.jsm.consumers.info(e.stream, e.config.durable_name)).ack_floor.stream_seq < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect((await nats.jsm.consumers.info(e.stream, e.config.durable_name)).ack_floor.stream_seq).toBe(2);
    // Limits retention: the acknowledged frames stay until CHAT_DELIVERY's max age.
    expect((await nats.jsm.streams.info(e.stream)).state.messages).toBe(2);
    await e.consumer.stop();
  });

  it('re-creates its consumer when it is deleted, and reads on at once', async () => {
    const e = await edge();
    await e.publish('before');
    await e.arrived('before');
    await nats.jsm.consumers.delete(e.stream, e.config.durable_name);
    // Well inside the ~45 s after which nats.js alone would notice (two missed heartbeats).
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(await nats.jsm.consumers.info(e.stream, e.config.durable_name).catch(() => null))) await new Promise((r) => setTimeout(r, 20));
    await e.publish('after');
    await e.arrived('after', 10_000);
    // A re-created consumer starts at the stream's first frame: 'before' comes again (devices de-duplicate by seq).
    expect(e.refs.filter((r) => r === 'after')).toEqual(['after']);
    await e.consumer.stop();
  });

  it('reads on after `chatctl streams apply` re-creates an earlier version\'s work-queue CHAT_DELIVERY', async () => {
    const e = await edge({ workQueue: true });
    await e.publish('before');
    await e.arrived('before');
    const report = await applyStreams(nats.jsm, e.n, settings, ['e1']);
    expect(report.streams.find((s) => s.name === e.stream)?.action).toBe('recreated');
    expect((await nats.jsm.streams.info(e.stream)).config.retention).toBe(RetentionPolicy.Limits);
    await e.publish('after');
    await e.arrived('after', 10_000);
    expect(e.refs).toEqual(['before', 'after']);
    await e.consumer.stop();
  });
});
