import { runApp } from '@chat/app';
import { projectorBatchMetrics, registerProjectorMetrics } from './metrics';
import { names as namesFor, ProjectorConfig } from '@chat/contracts';
import { connectNats, JetStreamPublisher } from '@chat/nats';
import { createPool } from '@chat/postgres';
import { ConnectionRegistry, ConversationListCache, createRedis } from '@chat/redis';
import { LiveRouter } from './live/liveRouter';
import { MembershipCache } from './live/membership';
import { Projector } from './pipeline/projector';
import { buildProjection, PROJECTION_KEYS } from './projections';
import { Router } from './routing';
import { Sweeper, sweepIntervalMs } from './sweeper';
import { MediaStore } from '@chat/media';

runApp('projector', ProjectorConfig, async ({ cfg, log, metrics }) => {
  const names = namesFor(cfg.CHAT_NS);

  // CHAT_PROJECTOR_SYNC_COMMIT=off: a commit returns before its WAL is flushed. A Postgres crash
  // may then lose the last few hundred milliseconds of read-model writes, with their checkpoint
  // (one transaction), and the projector applies those events again from CHAT_EVENTS.
  const pool = createPool(cfg.DATABASE_URL, cfg.CHAT_PG_POOL, cfg.CHAT_PROJECTOR_SYNC_COMMIT === 'off' ? { synchronous_commit: 'off' } : {});
  pool.on('error', (err) => log.warn({ err }, 'idle postgres connection failed'));
  const redis = createRedis(cfg.REDIS_URL, names.redisPrefix);
  redis.on('error', (err) => log.warn({ err }, 'redis error'));
  const nats = await connectNats(cfg.NATS_URL, 'projector', { security: cfg });
  // Live frames and push jobs: a batch waits for all of them before its commit anyway, so a
  // server slow to store a burst (a reconnect storm's backlog) is waited for rather than failed
  // after the default 5 s, which would route the whole batch again.
  const publisher = new JetStreamPublisher(nats.nc, 30_000);
  const router = new Router(publisher, names, new ConnectionRegistry(redis, cfg.CHAT_REGISTRY_TTL));
  // The client's keyPrefix already carries the namespace.
  const cache = new ConversationListCache(redis);

  const projector = new Projector(
    {
      onBatch: projectorBatchMetrics(metrics),
      pool,
      nc: nats.nc,
      js: nats.js,
      jsm: nats.jsm,
      names,
      log,
      batchSize: cfg.CHAT_PROJECTOR_BATCH,
      lingerMs: cfg.CHAT_PROJECTOR_LINGER,
      commitIntervalMs: cfg.CHAT_PROJECTOR_COMMIT_INTERVAL,
      live: new LiveRouter({ router, membership: new MembershipCache(cfg.CHAT_MEMBERSHIP_CACHE), publisher, names }),
    },
    PROJECTION_KEYS.map((key) => buildProjection(key, names, router, { cache, log, retention: cfg.CHAT_RETENTION })),
  );

  // The sweeper runs beside the projections; CHAT_SWEEP_INTERVAL=0 turns it off.
  const sweeper = cfg.CHAT_SWEEP_INTERVAL !== 0
    ? new Sweeper(pool, {
        maxAgeMs: cfg.CHAT_MAX_AGE,
        intervalMs: sweepIntervalMs(cfg.CHAT_MAX_AGE, cfg.CHAT_SWEEP_INTERVAL),
        cache,
        log,
        media: { store: MediaStore.fromEnv(cfg, names.ns), uploadExpiryMs: cfg.CHAT_MEDIA_UPLOAD_EXPIRY, unsentTtlMs: cfg.CHAT_MEDIA_UNSENT_TTL },
      })
    : null;

  registerProjectorMetrics(metrics, { projector, router, pool, jsm: nats.jsm, stream: names.streams.events });

  projector.start();
  sweeper?.start();
  log.info({ batch: cfg.CHAT_PROJECTOR_BATCH, retention: cfg.CHAT_RETENTION, maxAge: cfg.CHAT_MAX_AGE, syncCommit: cfg.CHAT_PROJECTOR_SYNC_COMMIT }, 'projector started');
  return {
    done: projector.done,
    async ready() {
      const [natsOk, pgOk] = await Promise.all([nats.nc.flush().then(() => true, () => false), pool.query('SELECT 1').then(() => true, () => false)]);
      const refusal = projector.refusal;
      return { checks: { nats: natsOk, postgres: pgOk, applying: refusal === null }, ...(refusal ? { problems: [`${refusal.reason}; ${refusal.fix}`] } : {}) };
    },
    async stop() {
      await Promise.all([projector.stop(), sweeper?.stop()]);
      // drain flushes the acks of the last batches before closing.
      await nats.nc.drain().catch((err) => log.warn({ err }, 'nats drain failed'));
      await Promise.allSettled([pool.end(), redis.quit()]);
    },
  };
});
