import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { pino, type Logger } from 'pino';
import { CommandConfig, loadConfig, names as namesFor, type Names } from '@chat/contracts';
import { connectNats, JetStreamEventStore, type Nats } from '@chat/nats';
import { connectSession, createPool, tryLockProjection } from '@chat/postgres';
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
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
      if (attempt === 1) log.warn({ stream }, 'waiting for the stream to be created (chatctl streams apply)');
      await new Promise((r) => setTimeout(r, 2_000));
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
async function acquireWriterLock(databaseUrl: string, log: Logger): Promise<Awaited<ReturnType<typeof connectSession>>> {
  const pool = createPool(databaseUrl, 1);
  let announced = false;
  for (;;) {
    try {
      const session = await connectSession(pool);
      if (await tryLockProjection(session, WRITER_LOCK)) {
        await pool.end();
        return session;
      }
      await session.end();
      if (!announced) log.info('another command service is active; standing by');
      announced = true;
    } catch (err) {
      log.warn({ err }, 'cannot take the writer lock; retrying');
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
const WRITER_LOCK = 'command-handler';

async function main(): Promise<void> {
  const cfg = loadConfig(CommandConfig);
  const log = pino({ level: cfg.LOG_LEVEL, base: { app: 'command', ns: cfg.CHAT_NS || undefined } });
  const n = namesFor(cfg.CHAT_NS);
  const lock = await acquireWriterLock(cfg.DATABASE_URL, log);
  const onLockLost: { stop?: () => void } = {};
  // Listening from the start: an error on the lock session before the service runs must not
  // crash the process unhandled.
  lock.on('error', (err) => {
    log.fatal({ err }, 'writer lock lost');
    if (onLockLost.stop) onLockLost.stop();
    else process.exit(1);
  });
  const nats = await connectNats(cfg.NATS_URL, 'command');
  await ensureCommandConsumer(nats, n, log);

  const service = new CommandService({
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

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string, code: number): Promise<void> =>
    (closing ??= (async () => {
      log.info({ reason }, 'shutting down');
      await service.stop().catch((err) => log.warn({ err }, 'stopping the consumer failed'));
      // drain flushes the last replies and acks before closing.
      await nats.nc.drain().catch((err) => log.warn({ err }, 'nats drain failed'));
      log.info({ ...service.stats }, 'stopped');
      await lock.end().catch(() => undefined);
      process.exitCode = code;
    })());
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  // Without the lock another instance may become active: stop before appending again.
  onLockLost.stop = () => void shutdown('writer lock lost', 1);

  await service.start();
  log.info(
    { batch: cfg.CHAT_COMMAND_BATCH, cache: cfg.CHAT_AGGREGATE_CACHE, maxGroupMembers: cfg.CHAT_MAX_GROUP_MEMBERS, editWindowMs: cfg.CHAT_EDIT_WINDOW, deleteWindowMs: cfg.CHAT_DELETE_WINDOW },
    'command service started',
  );
  await service.done.catch(async (err) => {
    log.fatal({ err }, 'command consumer stopped');
    await shutdown('consumer failed', 1);
  });
}

main().catch((err) => {
  // The logger may not exist yet (bad configuration): print plainly.
  console.error(err);
  process.exit(1);
});
