import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { pino, type Logger } from 'pino';
import { CommandConfig, loadConfig, names as namesFor, type Names } from '@chat/contracts';
import { connectNats, JetStreamEventStore, type Nats } from '@chat/nats';
import { createPool, SessionLock } from '@chat/postgres';
import { consumerConfigs, ensureConsumer } from '@chat/streams';
import { CommandService } from './service';

/**
 * The durable is part of the streams as code; ensuring it here lets the service start before
 * or after `chatctl`. The streams themselves are never created here: waiting for them beats
 * creating them with the wrong settings.
 */
async function ensureCommandConsumer(nats: Nats, n: Names, log: Logger): Promise<void> {
  const { stream, config } = consumerConfigs(n).find((c) => c.config.durable_name === n.consumers.commandHandler)!;
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureConsumer(nats.jsm, stream, config);
      return;
    } catch (e) {
      // A missing stream is waited for; anything else (a cluster electing leaders, a node
      // down) is retried too: exiting would only restart into the same wait.
      if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound) {
        if (attempt === 1) log.warn({ stream }, 'waiting for the stream to be created (chatctl streams apply)');
      } else log.warn({ err: e, attempt }, 'cannot ensure the command consumer yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5_000, 500 * attempt)));
    }
  }
}

/**
 * One active command service per namespace; other instances stand by until its lock goes
 * (a Postgres advisory lock, held by a session: a crashed or partitioned instance loses it).
 * Appends are guarded by `Nats-Expected-Last-Subject-Sequence`, but on a replicated stream
 * nats-server 2.9 lets two in-flight appends that expect the same sequence both through
 * (found by the chaos suite: two messages with one seq). One writer at a time closes that.
 */
const WRITER_LOCK = 'command-handler';

async function main(): Promise<void> {
  const cfg = loadConfig(CommandConfig);
  const log = pino({ level: cfg.LOG_LEVEL, base: { app: 'command', ns: cfg.CHAT_NS || undefined } });
  const n = namesFor(cfg.CHAT_NS);
  // Only the lock's sessions come from here (each on a connection of its own).
  const lockPool = createPool(cfg.DATABASE_URL, 1);
  const nats = await connectNats(cfg.NATS_URL, 'command');
  await ensureCommandConsumer(nats, n, log);

  const stopping = new AbortController();
  let service: CommandService | undefined;
  let closing: Promise<void> | undefined;
  const shutdown = (reason: string, code: number): Promise<void> =>
    (closing ??= (async () => {
      log.info({ reason }, 'shutting down');
      stopping.abort();
      await service?.stop().catch((err) => log.warn({ err }, 'stopping the consumer failed'));
      // drain flushes the last replies and acks before closing.
      await nats.nc.drain().catch((err) => log.warn({ err }, 'nats drain failed'));
      log.info({ ...service?.stats }, 'stopped');
      process.exitCode = code;
    })());
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  // Each turn holds the writer lock; losing it (Postgres restarted) stops the service before
  // it appends again, and the process stands by for the lock like any other instance.
  while (!stopping.signal.aborted) {
    const lock = await SessionLock.acquire(lockPool, WRITER_LOCK, {
      signal: stopping.signal,
      standbyRetryMs: 1_000,
      onStandby: () => log.info('another command service is active; standing by'),
      onError: (err) => log.warn({ err }, 'cannot take the writer lock; retrying'),
    });
    if (!lock) break;
    // A fresh service per turn: its aggregate cache may be stale after another writer's turn.
    service = new CommandService({
      nc: nats.nc,
      js: nats.js,
      jsm: nats.jsm,
      names: n,
      log,
      store: new JetStreamEventStore(nats.js, nats.jsm, n.streams.events),
      batch: cfg.CHAT_COMMAND_BATCH,
      cacheEntries: cfg.CHAT_AGGREGATE_CACHE,
      rules: { maxGroupMembers: cfg.CHAT_MAX_GROUP_MEMBERS, editWindowMs: cfg.CHAT_EDIT_WINDOW, deleteWindowMs: cfg.CHAT_DELETE_WINDOW },
    });
    // JetStream may be electing leaders (a node just restarted): retry rather than exit.
    for (let attempt = 1; !stopping.signal.aborted; attempt++) {
      try {
        await service.start();
        break;
      } catch (err) {
        log.warn({ err, attempt }, 'cannot start consuming commands yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5_000, 500 * attempt)));
      }
    }
    log.info(
      { batch: cfg.CHAT_COMMAND_BATCH, cache: cfg.CHAT_AGGREGATE_CACHE, maxGroupMembers: cfg.CHAT_MAX_GROUP_MEMBERS, editWindowMs: cfg.CHAT_EDIT_WINDOW, deleteWindowMs: cfg.CHAT_DELETE_WINDOW },
      'command service started',
    );
    const outcome = await Promise.race([
      lock.lost.then((err) => ({ lost: err })),
      service.done.then(
        () => ({ ended: true }),
        (err: unknown) => ({ failed: err }),
      ),
    ]);
    if ('lost' in outcome) {
      log.warn({ err: outcome.lost }, 'writer lock lost; pausing until it is held again');
      // First: no append may leave this process any more; then stop pulling.
      service.fence();
      await service.stop().catch((err) => log.warn({ err }, 'stopping the consumer failed'));
    }
    await lock.release();
    if ('failed' in outcome) {
      log.fatal({ err: outcome.failed }, 'command consumer stopped');
      await shutdown('consumer failed', 1);
    }
    if (!('lost' in outcome)) break;
  }
  await (closing ?? shutdown('the command service ended', 0));
  await lockPool.end().catch(() => undefined);
}

main().catch((err) => {
  // The logger may not exist yet (bad configuration): print plainly.
  console.error(err);
  process.exit(1);
});
