import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { ConsumerConfig, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';
import { Kvm } from '@nats-io/kv';
import { commandOwnersBucket, snapshotsBucket, consumerConfigs, edgeConsumerConfig, retiredConsumers, streamConfigs, transientStreams, type StreamSettings } from './definitions';

export interface ApplyReport {
  streams: Array<{ name: string; action: 'created' | 'updated' | 'unchanged' | 'recreated' }>;
  buckets: Array<{ name: string; action: 'created' | 'unchanged' }>;
  consumers: Array<{ stream: string; name: string; action: 'created' | 'updated' | 'unchanged' | 'retired' }>;
}

const isNotFound = (e: unknown): boolean =>
  e instanceof JetStreamApiError &&
  (e.code === JetStreamApiCodes.StreamNotFound || e.code === JetStreamApiCodes.ConsumerNotFound);

/** Fields the server fills in or that we do not manage; ignored when comparing. */
function differs(wanted: Record<string, unknown>, actual: Record<string, unknown>): boolean {
  return Object.entries(wanted).some(([k, v]) => JSON.stringify(actual[k]) !== JSON.stringify(v));
}

/**
 * Creates or updates every stream and consumer. Idempotent: running it twice changes nothing.
 * It never deletes a stream or purges data, with one exception: a transient stream
 * (`transientStreams`: CHAT_DELIVERY) whose retention changed is re-created, with its durable
 * consumers as they were (their frames of the last few minutes are dropped; every device gets
 * them from `sync`). Any other change the server refuses to apply in place (e.g. storage type,
 * or CHAT_EVENTS' retention) fails loudly instead.
 */
export async function applyStreams(jsm: JetStreamManager, n: Names, s: StreamSettings, edgeIds: string[] = []): Promise<ApplyReport> {
  const report: ApplyReport = { streams: [], buckets: [], consumers: [] };
  for (const cfg of streamConfigs(n, s)) {
    try {
      const info = await jsm.streams.info(cfg.name);
      if (info.config.retention !== cfg.retention && transientStreams(n).includes(cfg.name)) {
        await recreateStream(jsm, cfg);
        report.streams.push({ name: cfg.name, action: 'recreated' });
      } else if (differs(cfg, info.config as unknown as Record<string, unknown>)) {
        await jsm.streams.update(cfg.name, cfg as Partial<StreamConfig>);
        report.streams.push({ name: cfg.name, action: 'updated' });
      } else report.streams.push({ name: cfg.name, action: 'unchanged' });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await jsm.streams.add(cfg);
      report.streams.push({ name: cfg.name, action: 'created' });
    }
  }
  report.buckets.push(await ensureCommandOwners(jsm, n, s));
  report.buckets.push(await ensureSnapshots(jsm, n, s));
  for (const { stream, config } of [...consumerConfigs(n, s), ...edgeIds.map((id) => edgeConsumerConfig(n, id, s))]) {
    report.consumers.push({ stream, name: config.durable_name, action: await ensureConsumer(jsm, stream, config) });
  }
  // Consumers of earlier versions hold no data (positions only; their work moved to another
  // consumer that starts from its own checkpoint), but would keep messages of a work queue
  // and count as lag forever.
  for (const { stream, name } of retiredConsumers(n)) {
    try {
      await jsm.consumers.delete(stream, name);
      report.consumers.push({ stream, name, action: 'retired' });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return report;
}

/**
 * Deletes a stream and adds it again with `cfg`, then adds back its durable consumers with the
 * settings they had (positions start over: the new stream is empty). Only for transient streams.
 */
async function recreateStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  const durables: ConsumerConfig[] = [];
  for await (const ci of jsm.consumers.list(cfg.name)) if (ci.config.durable_name) durables.push(ci.config);
  await jsm.streams.delete(cfg.name);
  await jsm.streams.add(cfg);
  for (const c of durables) {
    const { deliver_policy: _d, opt_start_seq: _o, opt_start_time: _t, ...config } = c;
    await jsm.consumers.add(cfg.name, { ...config, deliver_policy: DeliverPolicy.All });
  }
}

/** The command partition lease bucket (commandOwnersBucket): created if missing. */
export async function ensureCommandOwners(jsm: JetStreamManager, n: Names, s: Pick<StreamSettings, 'replicas'>): Promise<{ name: string; action: 'created' | 'unchanged' }> {
  const b = commandOwnersBucket(n, s);
  const kvm = new Kvm(jsm.jetstream());
  try {
    await jsm.streams.info(`KV_${b.name}`);
    return { name: b.name, action: 'unchanged' };
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await kvm.create(b.name, { history: 1, ttl: b.ttlMs, markerTTL: b.ttlMs, replicas: b.replicas, description: 'Command partition leases and live command processes' });
  return { name: b.name, action: 'created' };
}

/** The snapshot bucket (snapshotsBucket): created if missing. */
export async function ensureSnapshots(jsm: JetStreamManager, n: Names, s: Pick<StreamSettings, 'replicas'>): Promise<{ name: string; action: 'created' | 'unchanged' }> {
  const b = snapshotsBucket(n, s);
  try {
    await jsm.streams.info(`KV_${b.name}`);
    return { name: b.name, action: 'unchanged' };
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await new Kvm(jsm.jetstream()).create(b.name, { history: 1, replicas: b.replicas, description: 'Aggregate snapshots: conversation state that outlives CHAT_EVENTS' });
  return { name: b.name, action: 'created' };
}

/**
 * ensureConsumer for an app starting beside `chatctl streams apply` (or before it): while the
 * stream does not exist yet, waits and tries again (`onWait` is told once); any other error
 * fails the start.
 */
export async function ensureConsumerWhenStreamExists(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
  onWait: (stream: string) => void = () => undefined,
  retryMs = 2_000,
): Promise<'created' | 'updated' | 'unchanged'> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ensureConsumer(jsm, stream, config);
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
      if (attempt === 1) onWait(stream);
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}

/** Creates the consumer, or updates the fields that can change in place. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<'created' | 'updated' | 'unchanged'> {
  try {
    const info = await jsm.consumers.info(stream, config.durable_name);
    const { deliver_policy: _d, opt_start_seq: _o, durable_name: _n, name: _nn, filter_subject: _f, ...mutable } = config;
    if (!differs(mutable, info.config as unknown as Record<string, unknown>)) return 'unchanged';
    await jsm.consumers.update(stream, config.durable_name, mutable);
    return 'updated';
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await jsm.consumers.add(stream, config);
    return 'created';
  }
}

/**
 * Re-creates a durable consumer so that its next delivery is `startSeq` (a projection's
 * checkpoint + 1). Used when a projector starts and finds deliveries of a dead predecessor
 * still pending, and to rebuild a projection from the start.
 */
export async function resetConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
  startSeq: number,
): Promise<void> {
  try {
    await jsm.consumers.delete(stream, config.durable_name);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await jsm.consumers.add(stream, {
    ...config,
    ...(startSeq <= 1 ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }),
  });
}
