import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Kvm } from '@nats-io/kv';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { gaugeFrom, registerJetStreamGauges, type Shell } from '@chat/app';
import { names as namesFor, type CommandConfig, type Names } from '@chat/contracts';
import { JetStreamEventStore, publisherFor, type Nats } from '@chat/nats';
import { commandOwnersBucket, ensureCommandOwners, ensureSnapshots, snapshotsBucket } from '@chat/streams';
import { Aggregates } from './aggregates';
import { StreamMessageLookup } from './messageLookup';
import { PartitionLeases } from './partitions/leases';
import type { HandOver } from './handler';
import { CommandService, type CommandObserver } from './service';
import { SnapshotKeeper } from './snapshots/keeper';
import { KvSnapshotStore } from './snapshots/store';

/** What the command tier reads of the configuration (CommandConfig without the ops port). */
export type CommandTierConfig = Omit<CommandConfig, 'CHAT_OPS_PORT'>;

/**
 * The lease and snapshot buckets are part of the streams as code; ensuring them here lets the
 * service start before or after `chatctl streams apply`. A cluster electing leaders (a node
 * just restarted) is waited for: exiting would only restart into the same wait.
 */
async function openBuckets(nats: Nats, n: Names, replicas: number, log: Logger) {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureCommandOwners(nats.jsm, n, { replicas });
      await ensureSnapshots(nats.jsm, n, { replicas });
      const kvm = new Kvm(nats.js);
      return {
        leases: await kvm.open(commandOwnersBucket(n, { replicas }).name),
        snapshots: await kvm.open(snapshotsBucket(n, { replicas }).name),
      };
    } catch (err) {
      log.warn({ err, attempt }, 'cannot open the lease and snapshot buckets yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5_000, 500 * attempt)));
    }
  }
}

/** How long a cached state may hold events not in its snapshot: CHAT_SNAPSHOT_INTERVAL, else min(1 min, max age / 10). */
export const snapshotIntervalMs = (maxAgeMs: number, configured?: number): number => configured ?? Math.min(60_000, Math.floor(maxAgeMs / 10));

/** A lease holder's name: host, pid and a random suffix (a restarted process is a new holder). */
export const newInstanceId = (): string => `${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 32)}-${process.pid}-${randomBytes(3).toString('hex')}`;

export interface CommandTier {
  readonly instanceId: string;
  readonly service: CommandService;
  readonly leases: PartitionLeases;
  /** The service's counters with the leases', the cache's and the keeper's state. */
  stats(): Record<string, unknown>;
  /** Hands the partitions over drained, lets running commands answer, writes due snapshots. */
  stop(): Promise<void>;
}

/**
 * A command tier: the command service, the partition leases that decide which partitions it
 * takes, and the snapshot keeper. Run by the command app, and by an edge with
 * CHAT_EDGE_COMMANDS=hosted (docs/architecture.md, Where commands run): either way it competes
 * for the same leases, so each partition has one writer whichever process holds it.
 */
export async function startCommandTier(opts: {
  nats: Nats;
  cfg: CommandTierConfig;
  log: Logger;
  registry: Registry;
  instanceId: string;
  /** The host's summary line: the tier logs its own `commands` line through it. */
  summary: Shell<unknown>['summary'];
  /** An edge hosting the tier: hands new messages to its own devices after their append. */
  handOver?: HandOver;
}): Promise<CommandTier> {
  const { nats, cfg, log, registry, instanceId } = opts;
  const n = namesFor(cfg.CHAT_NS);
  const buckets = await openBuckets(nats, n, cfg.CHAT_STREAM_REPLICAS, log);
  const snapshots = new KvSnapshotStore(buckets.snapshots);
  const snapshotAfterMs = snapshotIntervalMs(cfg.CHAT_MAX_AGE, cfg.CHAT_SNAPSHOT_INTERVAL);
  const events = new JetStreamEventStore(nats.js, nats.jsm, n.streams.events, publisherFor(nats.nc));

  const commands = new Counter({ name: 'chat_command_handled_total', help: 'Commands answered, by type and outcome (ok, rejected: a domain error, failed: answered unavailable, moved: partition changing hands)', labelNames: ['type', 'outcome'], registers: [registry] });
  const commandSeconds = new Histogram({
    name: 'chat_command_handle_duration_seconds',
    help: 'Command received to answered (queue, decide, append until JetStream acknowledged), by type',
    labelNames: ['type'],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const batchSize = new Histogram({ name: 'chat_command_batch_size', help: 'Commands per batch (a request from an edge, or a turn of the hosting edge)', buckets: [1, 2, 5, 10, 20, 50, 100, 200], registers: [registry] });
  const observer: CommandObserver = {
    batch: (size) => batchSize.observe(size),
    command(type, outcome, seconds) {
      commands.inc({ type, outcome });
      if (outcome !== 'moved') commandSeconds.observe({ type }, seconds);
    },
  };
  const service = new CommandService({
    observer,
    nc: nats.nc,
    js: nats.js,
    jsm: nats.jsm,
    names: n,
    log,
    store: events,
    snapshots,
    messages: new StreamMessageLookup(nats.js, n.streams.events),
    partitions: cfg.CHAT_COMMAND_PARTITIONS,
    owns: (p) => leases.owns(p),
    cacheBytes: cfg.CHAT_AGGREGATE_CACHE_BYTES,
    snapshotEvery: cfg.CHAT_SNAPSHOT_EVERY,
    snapshotAfterMs,
    rules: { maxGroupMembers: cfg.CHAT_MAX_GROUP_MEMBERS, editWindowMs: cfg.CHAT_EDIT_WINDOW, deleteWindowMs: cfg.CHAT_DELETE_WINDOW },
    ...(opts.handOver ? { handOver: opts.handOver } : {}),
  }).start();
  // One keeper per system: in the process holding partition 0. It writes what the owners'
  // snapshots missed (a crash) well before CHAT_MAX_AGE: after twice the snapshot interval.
  const keeper = new SnapshotKeeper({
    js: nats.js,
    kv: buckets.snapshots,
    names: n,
    aggregates: new Aggregates(events, snapshots, { cacheBytes: 0, snapshotEvery: Number.POSITIVE_INFINITY, snapshotAfterMs }),
    log: log.child({ part: 'snapshot-keeper' }),
    graceMs: 2 * snapshotAfterMs + 1_000,
  });
  const leases: PartitionLeases = new PartitionLeases({
    kv: buckets.leases,
    instanceId,
    partitions: cfg.CHAT_COMMAND_PARTITIONS,
    ttlMs: commandOwnersBucket(n, { replicas: cfg.CHAT_STREAM_REPLICAS }).ttlMs,
    log: log.child({ instance: instanceId }),
    handlers: {
      acquired: (p) => {
        service.take(p);
        if (p === 0) keeper.start();
      },
      stopped: (p) => {
        service.drop(p);
        if (p === 0) void keeper.stop();
      },
      drained: (p) => service.drained(p),
    },
  });

  gaugeFrom(registry, 'chat_command_partitions_owned', 'Command partitions this process holds the writer lease of (the sum over processes is CHAT_COMMAND_PARTITIONS when all are owned)', () => service.partitionsTaken.length);
  gaugeFrom(registry, 'chat_command_partitions_configured', 'CHAT_COMMAND_PARTITIONS', () => cfg.CHAT_COMMAND_PARTITIONS);
  gaugeFrom(registry, 'chat_command_aggregate_cache_bytes', 'Estimated bytes of aggregate states cached (bounded by CHAT_AGGREGATE_CACHE_BYTES)', () => service.aggregates.bytes);
  // The cluster's streams and consumers, exported by the one process holding partition 0.
  registerJetStreamGauges(registry, nats.jsm, { streams: Object.values(n.streams), active: () => leases.owns(0) });

  const details = () => ({ leases: leases.stats, aggregates: service.aggregates.stats, keeper: keeper.stats, cached: service.aggregates.size, cachedBytes: service.aggregates.bytes, partitions: service.partitionsTaken });
  opts.summary('commands', () => ({ ...service.stats }), undefined, details);

  await leases.start();
  log.info(
    { instance: instanceId, partitions: cfg.CHAT_COMMAND_PARTITIONS, cacheBytes: cfg.CHAT_AGGREGATE_CACHE_BYTES, snapshotAfterMs, maxAge: cfg.CHAT_MAX_AGE, maxGroupMembers: cfg.CHAT_MAX_GROUP_MEMBERS },
    'command tier started',
  );
  return {
    instanceId,
    service,
    leases,
    stats: () => ({ ...service.stats, ...details() }),
    async stop() {
      // Partitions are handed over drained: the next owner takes them within a second.
      await leases.stop().catch((err) => log.warn({ err }, 'handing partitions over failed'));
      await service.stop();
      await keeper.stop();
    },
  };
}
