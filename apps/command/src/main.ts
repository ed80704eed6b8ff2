import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Kvm } from '@nats-io/kv';
import { pino, type Logger } from 'pino';
import { CommandConfig, loadConfig, names as namesFor, type Names } from '@chat/contracts';
import { connectNats, JetStreamEventStore, publisherFor, type Nats } from '@chat/nats';
import { commandOwnersBucket, ensureCommandOwners } from '@chat/streams';
import { PartitionLeases } from './partitions/leases';
import { CommandService } from './service';

/**
 * The lease bucket is part of the streams as code; ensuring it here lets the service start
 * before or after `chatctl streams apply`. A cluster electing leaders (a node just restarted)
 * is waited for: exiting would only restart into the same wait.
 */
async function openLeases(nats: Nats, n: Names, replicas: number, log: Logger) {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureCommandOwners(nats.jsm, n, { replicas });
      return await new Kvm(nats.js).open(commandOwnersBucket(n, { replicas }).name);
    } catch (err) {
      log.warn({ err, attempt }, 'cannot open the partition lease bucket yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5_000, 500 * attempt)));
    }
  }
}

async function main(): Promise<void> {
  const cfg = loadConfig(CommandConfig);
  const log = pino({ level: cfg.LOG_LEVEL, base: { app: 'command', ns: cfg.CHAT_NS || undefined } });
  const n = namesFor(cfg.CHAT_NS);
  const instanceId = `${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 32)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const nats = await connectNats(cfg.NATS_URL, `command-${instanceId}`);
  const kv = await openLeases(nats, n, cfg.CHAT_STREAM_REPLICAS, log);

  const service = new CommandService({
    nc: nats.nc,
    js: nats.js,
    jsm: nats.jsm,
    names: n,
    log,
    store: new JetStreamEventStore(nats.js, nats.jsm, n.streams.events, publisherFor(nats.nc)),
    partitions: cfg.CHAT_COMMAND_PARTITIONS,
    owns: (p) => leases.owns(p),
    cacheEntries: cfg.CHAT_AGGREGATE_CACHE,
    rules: { maxGroupMembers: cfg.CHAT_MAX_GROUP_MEMBERS, editWindowMs: cfg.CHAT_EDIT_WINDOW, deleteWindowMs: cfg.CHAT_DELETE_WINDOW },
  }).start();
  const leases: PartitionLeases = new PartitionLeases({
    kv,
    instanceId,
    partitions: cfg.CHAT_COMMAND_PARTITIONS,
    ttlMs: commandOwnersBucket(n, { replicas: cfg.CHAT_STREAM_REPLICAS }).ttlMs,
    log: log.child({ instance: instanceId }),
    handlers: {
      acquired: (p) => service.take(p),
      stopped: (p) => service.drop(p),
      drained: (p) => service.drained(p),
    },
  });

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string, code: number): Promise<void> =>
    (closing ??= (async () => {
      log.info({ reason }, 'shutting down');
      // Partitions are handed over drained: the next owner takes them within a second.
      await leases.stop().catch((err) => log.warn({ err }, 'handing partitions over failed'));
      await service.stop();
      await nats.nc.drain().catch((err) => log.warn({ err }, 'nats drain failed'));
      log.info({ ...service.stats, leases: leases.stats }, 'stopped');
      process.exitCode = code;
    })());
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  await leases.start();
  log.info(
    { instance: instanceId, partitions: cfg.CHAT_COMMAND_PARTITIONS, cache: cfg.CHAT_AGGREGATE_CACHE, maxGroupMembers: cfg.CHAT_MAX_GROUP_MEMBERS },
    'command service started',
  );
}

main().catch((err) => {
  // The logger may not exist yet (bad configuration): print plainly.
  console.error(err);
  process.exit(1);
});
