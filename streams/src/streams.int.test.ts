import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AckPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { applyStreams, streamConfigs, nanos, resetConsumer, consumerConfigs, DELIVERY_POLICIES, DLQ_MAX_AGE_MS, EDGE_CONSUMER_IDLE_MS, edgeConsumerConfig, ensureConsumerWhenStreamExists } from './index';

const n = names(`st${Math.random().toString(36).slice(2, 8)}`);
/** A second namespace whose streams a test creates late. */
const late = names(`sl${Math.random().toString(36).slice(2, 8)}`);
/** A third whose CHAT_DELIVERY an earlier version made (a work queue). */
const old = names(`so${Math.random().toString(36).slice(2, 8)}`);
const settings = { replicas: 1, maxAgeMs: 30 * 86_400_000 };
let nats: Nats;

beforeAll(async () => {
  nats = await connectNats(inject('chatEnv')['NATS_URL']!, 'streams-test');
});
afterAll(async () => {
  for (const ns of [n, late, old]) {
    for (const s of [...Object.values(ns.streams), ...Object.values(ns.kv).map((b) => `KV_${b}`)]) await nats.jsm.streams.delete(s).catch(() => undefined);
  }
  await nats.nc.close();
});

describe('streams as code', () => {
  it('creates every stream and consumer, and a second apply changes nothing', async () => {
    const first = await applyStreams(nats.jsm, n, settings, ['e1']);
    expect(first.streams.map((s) => s.action).every((a) => a === 'created')).toBe(true);
    expect(first.streams.map((s) => s.name)).toContain(n.streams.dlq);
    expect(first.consumers.map((c) => `${c.name}:${c.action}`)).toEqual(
      expect.arrayContaining(['projector:created', 'notifier-jobs:created', 'edge-e1:created']),
    );
    expect(first.consumers.every((c) => c.action === 'created')).toBe(true);
    expect(first.buckets).toEqual([
      { name: n.kv.commandOwners, action: 'created' },
      { name: n.kv.snapshots, action: 'created' },
    ]);
    const second = await applyStreams(nats.jsm, n, settings, ['e1']);
    expect([...second.streams, ...second.buckets, ...second.consumers].every((x) => x.action === 'unchanged')).toBe(true);
  });

  it('keeps the safety-relevant stream settings', async () => {
    // Commands are not stored: no stream captures chat.cmd.>.
    for await (const si of nats.jsm.streams.list()) {
      if (Object.values(n.streams).includes(si.config.name)) expect(si.config.subjects).not.toContain(n.subjects.cmdAll);
    }
    // Leases expire with a delete marker (the other command processes hear of it at once).
    const leases = (await nats.jsm.streams.info(`KV_${n.kv.commandOwners}`)).config;
    expect(leases).toMatchObject({ max_msgs_per_subject: 1, allow_msg_ttl: true, storage: StorageType.File });
    expect(leases.max_age).toBeGreaterThan(0);
    expect(leases.subject_delete_marker_ttl).toBeGreaterThan(0);

    // Snapshots never age: they are what outlives the events' max age.
    const snapshots = (await nats.jsm.streams.info(`KV_${n.kv.snapshots}`)).config;
    expect(snapshots).toMatchObject({ max_msgs_per_subject: 1, max_age: 0, storage: StorageType.File });

    const events = (await nats.jsm.streams.info(n.streams.events)).config;
    expect(events).toMatchObject({ storage: StorageType.File, retention: RetentionPolicy.Limits, deny_delete: true, max_age: nanos(settings.maxAgeMs) });
    expect(events.max_age).toBeLessThanOrEqual(nanos(30 * 86_400_000));
    expect(events.duplicate_window).toBeGreaterThanOrEqual(nanos(120_000));

    // Frames for the edges: kept a few minutes, not deleted one by one on every ack.
    const dlv = (await nats.jsm.streams.info(n.streams.delivery)).config;
    expect(dlv).toMatchObject({ storage: StorageType.File, retention: RetentionPolicy.Limits });
    expect(dlv.max_age).toBeGreaterThan(0);
    expect(dlv.max_age).toBeLessThanOrEqual(nanos(10 * 60_000));

    const dlq = (await nats.jsm.streams.info(n.streams.dlq)).config;
    expect(dlq).toMatchObject({ storage: StorageType.File, retention: RetentionPolicy.Limits, subjects: [n.subjects.dlqAll], deny_delete: false });
    expect(dlq.max_age).toBe(nanos(Math.min(settings.maxAgeMs, DLQ_MAX_AGE_MS)));
    expect(dlq.max_age).toBeGreaterThanOrEqual(nanos(settings.maxAgeMs));
    expect(dlq.max_age).toBeLessThanOrEqual(nanos(30 * 86_400_000));
    expect(dlq.duplicate_window).toBeGreaterThanOrEqual(nanos(120_000));
  });

  it('gives every durable consumer a bounded max_deliver with a backoff nats-server accepts', async () => {
    let count = 0;
    for await (const si of nats.jsm.streams.list()) {
      if (!Object.values(n.streams).includes(si.config.name)) continue;
      for await (const ci of nats.jsm.consumers.list(si.config.name)) {
        if (!ci.config.durable_name) continue;
        count++;
        const { max_deliver, backoff, ack_wait } = ci.config;
        expect(max_deliver, ci.name).toBeGreaterThan(0);
        expect(backoff?.length, ci.name).toBeGreaterThan(0);
        expect(max_deliver!, ci.name).toBeGreaterThan(backoff!.length);
        expect(ack_wait, ci.name).toBe(backoff![0]);
      }
    }
    expect(count).toBeGreaterThanOrEqual(3);
    const projector = (await nats.jsm.consumers.info(n.streams.events, 'projector')).config;
    expect(projector).toMatchObject({ max_deliver: DELIVERY_POLICIES.projection.maxDeliver, backoff: DELIVERY_POLICIES.projection.backoffMs.map(nanos) });
    const edge = (await nats.jsm.consumers.info(n.streams.delivery, 'edge-e1')).config;
    expect(edge).toMatchObject({ max_deliver: DELIVERY_POLICIES.edge.maxDeliver, backoff: DELIVERY_POLICIES.edge.backoffMs.map(nanos) });
  });

  it('takes smaller delivery policies (tests) and updates consumers in place', async () => {
    const small = { projection: { maxDeliver: 3, backoffMs: [500, 1000] } };
    const r = await applyStreams(nats.jsm, n, { ...settings, delivery: small }, ['e1']);
    expect(r.consumers.find((c) => c.name === 'projector')?.action).toBe('updated');
    expect((await nats.jsm.consumers.info(n.streams.events, 'projector')).config).toMatchObject({ max_deliver: 3, backoff: [nanos(500), nanos(1000)], ack_wait: nanos(500) });
    const back = await applyStreams(nats.jsm, n, settings, ['e1']);
    expect(back.consumers.filter((c) => c.action !== 'unchanged').map((c) => c.name)).toEqual(['projector']);
  });

  it('keeps the safety-relevant consumer settings', async () => {
    const info = async (stream: string, name: string) => (await nats.jsm.consumers.info(stream, name)).config;
    // One pass over the events for every read model: both filters, in stream order; a batch is acked by its last event.
    const projector = await info(n.streams.events, 'projector');
    expect(projector).toMatchObject({ ack_policy: AckPolicy.All, filter_subjects: [n.subjects.evtAll, n.subjects.prefAll], durable_name: 'projector' });
    // Bounded: an event failing on every attempt is dead-lettered, not retried forever.
    expect(projector.max_deliver).toBe(DELIVERY_POLICIES.projection.maxDeliver);
    // The consumers whose work moved to the projector are gone.
    for (const old of ['proj-messages', 'proj-receipts', 'proj-conversations', 'notifier']) {
      await expect(nats.jsm.consumers.info(n.streams.events, old)).rejects.toThrow(/consumer not found/);
    }
    const edge = await info(n.streams.delivery, 'edge-e1');
    expect(edge).toMatchObject({ ack_policy: AckPolicy.Explicit, filter_subject: n.subjects.dlv('e1') });
  });

  it('updates a changed setting in place without losing data', async () => {
    await nats.js.publish(n.subjects.evtConv('c1'), '{}');
    const changed = await applyStreams(nats.jsm, n, { ...settings, maxAgeMs: 7 * 86_400_000 });
    expect(changed.streams.find((s) => s.name === n.streams.events)?.action).toBe('updated');
    const si = await nats.jsm.streams.info(n.streams.events);
    expect(si.config.max_age).toBe(nanos(7 * 86_400_000));
    expect(si.state.messages).toBe(1);
  });

  it('resets a durable consumer to a start sequence', async () => {
    await nats.js.publish(n.subjects.evtConv('c2'), '{}');
    const cfg = consumerConfigs(n).find((c) => c.config.durable_name === 'projector')!;
    await resetConsumer(nats.jsm, cfg.stream, cfg.config, 2);
    const consumer = await nats.js.consumers.get(n.streams.events, 'projector');
    const batch = await consumer.fetch({ max_messages: 5, expires: 1000 });
    const seqs: number[] = [];
    for await (const m of batch) {
      seqs.push(m.seq);
      m.ack();
    }
    expect(seqs).toEqual([2]);
    expect((await nats.jsm.consumers.info(n.streams.events, 'projector')).config.max_deliver).toBe(DELIVERY_POLICIES.projection.maxDeliver);
  });

  it('an app started before `chatctl streams apply` waits for its stream, then creates its consumer', async () => {
    const { stream, config } = edgeConsumerConfig(late, 'e-late');
    let waited!: () => void;
    const waiting = new Promise<void>((r) => (waited = r));
    const ensured = ensureConsumerWhenStreamExists(nats.jsm, stream, config, () => waited(), 50);
    await waiting; // the marker: it found no stream and is waiting
    await applyStreams(nats.jsm, late, settings);
    expect(await ensured).toMatch(/^(created|unchanged)$/);
    const info = await nats.jsm.consumers.info(stream, config.durable_name);
    expect(info.config.durable_name).toBe(config.durable_name);
    // Fleet hygiene: the consumer of an edge that is gone is removed by the server after an idle hour.
    expect(info.config.inactive_threshold).toBe(nanos(EDGE_CONSUMER_IDLE_MS));
  });

  it('re-creates a work-queue CHAT_DELIVERY of an earlier version, with its consumers as they were', async () => {
    const { stream, config } = edgeConsumerConfig(old, 'e1');
    const wanted = streamConfigs(old, settings).find((c) => c.name === stream)!;
    await nats.jsm.streams.add({ ...wanted, retention: RetentionPolicy.Workqueue });
    await nats.jsm.consumers.add(stream, config);
    await nats.js.publish(old.subjects.dlv('e1'), 'before');

    const report = await applyStreams(nats.jsm, old, settings, ['e1']);
    expect(report.streams.find((s) => s.name === stream)?.action).toBe('recreated');
    expect(report.streams.filter((s) => s.name !== stream).every((s) => s.action === 'created')).toBe(true);
    expect(report.consumers.find((c) => c.name === config.durable_name)?.action).toBe('unchanged');
    const si = await nats.jsm.streams.info(stream);
    expect(si.config.retention).toBe(RetentionPolicy.Limits);
    expect(si.state.messages).toBe(0);
    expect((await nats.jsm.consumers.info(stream, config.durable_name)).config).toMatchObject({
      ack_policy: AckPolicy.Explicit,
      filter_subject: old.subjects.dlv('e1'),
      max_deliver: DELIVERY_POLICIES.edge.maxDeliver,
      inactive_threshold: nanos(EDGE_CONSUMER_IDLE_MS),
    });

    // An ack deletes nothing now: the frame stays until the max age, the consumer moves past it.
    await nats.js.publish(old.subjects.dlv('e1'), 'after');
    const batch = await (await nats.js.consumers.get(stream, config.durable_name)).fetch({ max_messages: 1, expires: 2_000 });
    for await (const m of batch) {
      expect(m.string()).toBe('after');
      await m.ackAck();
    }
    expect((await nats.jsm.consumers.info(stream, config.durable_name)).ack_floor.stream_seq).toBe(1);
    expect((await nats.jsm.streams.info(stream)).state.messages).toBe(1);
    const again = await applyStreams(nats.jsm, old, settings, ['e1']);
    expect([...again.streams, ...again.consumers].every((x) => x.action === 'unchanged')).toBe(true);
  });

  it('refuses to re-create a stream that is not transient when its retention differs', async () => {
    const other = names(`sr${Math.random().toString(36).slice(2, 8)}`);
    const events = streamConfigs(other, settings).find((c) => c.name === other.streams.events)!;
    await nats.jsm.streams.add({ ...events, retention: RetentionPolicy.Workqueue });
    try {
      await nats.js.publish(other.subjects.evtConv('c1'), '{}');
      await expect(applyStreams(nats.jsm, other, settings)).rejects.toThrow();
      expect((await nats.jsm.streams.info(other.streams.events)).state.messages).toBe(1);
    } finally {
      for (const s of [...Object.values(other.streams), ...Object.values(other.kv).map((b) => `KV_${b}`)]) await nats.jsm.streams.delete(s).catch(() => undefined);
    }
  });
});
