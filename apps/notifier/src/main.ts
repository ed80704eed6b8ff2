import type { Logger } from 'pino';
import { Histogram } from 'prom-client';
import { counterFrom, runApp } from '@chat/app';
import { names as namesFor, NotifierConfig, type Names } from '@chat/contracts';
import { connectNats, pullLoop, type Nats, type PullLoop } from '@chat/nats';
import { createPool } from '@chat/postgres';
import { ConnectionRegistry, createRedis } from '@chat/redis';
import { ensureConsumerWhenStreamExists, notifierConsumerConfigs, NOTIFIER_JOB_MAX_DELIVER } from '@chat/streams';
import { ProjectionGate } from './gate';
import { newStats, type NotifierStats } from './stats';
import { NotifierStore } from './store';
import { PushWorker } from './worker';

/** The durables are part of the streams as code; ensured here so the notifier may start before `chatctl streams apply` finished. */
async function ensureConsumers(nats: Nats, n: Names, log: Logger): Promise<void> {
  for (const { stream, config } of notifierConsumerConfigs(n)) {
    await ensureConsumerWhenStreamExists(nats.jsm, stream, config, () => log.warn({ stream }, 'waiting for the stream to be created (chatctl streams apply)'));
  }
}

runApp('notifier', NotifierConfig, async ({ cfg, log, summary, metrics }) => {
  const n = namesFor(cfg.CHAT_NS);
  const nats = await connectNats(cfg.NATS_URL, 'notifier', { security: cfg });
  await ensureConsumers(nats, n, log);
  const pool = createPool(cfg.DATABASE_URL, cfg.CHAT_PG_POOL);
  pool.on('error', (err) => log.warn({ err }, 'idle postgres connection failed'));
  const redis = createRedis(cfg.REDIS_URL, n.redisPrefix);
  // Read only: the TTL is only used when registering.
  const registry = new ConnectionRegistry(redis, cfg.CHAT_REGISTRY_TTL);
  const store = new NotifierStore(pool);
  const stats: NotifierStats = newStats();
  if (!cfg.CHAT_PUSH_URL) log.warn('CHAT_PUSH_URL is not set: pushes are logged, not sent');

  // The counts the notifier keeps anyway, read at scrape time.
  const outcomes: Record<string, keyof NotifierStats> = {
    pushed: 'pushed',
    rejected: 'rejected',
    retried: 'retried',
    collapsed: 'collapsed',
    logged_only: 'dropped',
    skipped_online: 'skippedOnline',
    skipped_muted: 'skippedMuted',
    skipped_blocked: 'skippedBlocked',
  };
  counterFrom(
    metrics,
    'chat_push_results_total',
    'Push jobs by result: pushed, rejected (given up), retried, collapsed into another push, logged_only (no CHAT_PUSH_URL), skipped (recipient online, muted, or blocking the sender)',
    { label: 'result', values: Object.fromEntries(Object.entries(outcomes).map(([result, key]) => [result, () => stats[key]])) },
  );
  counterFrom(metrics, 'chat_push_jobs_total', 'Push jobs taken from CHAT_NOTIFY', () => stats.jobs);
  counterFrom(metrics, 'chat_push_lag_gave_up_total', 'Pushes that waited CHAT_PUSH_LAG_WAIT for the read models and went ahead with what they held', () => stats.lagGaveUp);
  const postSeconds = new Histogram({
    name: 'chat_push_gateway_duration_seconds',
    help: 'One POST to the push gateway, by result (ok, rejected, retry)',
    labelNames: ['result'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics],
  });

  const readModels = [n.consumers.projMessages, n.consumers.projConversations];
  const gate = new ProjectionGate(() => store.projectionsPosition(readModels));
  const worker = new PushWorker({
    store,
    registry,
    log,
    stats,
    ...(cfg.CHAT_PUSH_URL ? { url: cfg.CHAT_PUSH_URL } : {}),
    ...(cfg.CHAT_PUSH_TOKEN ? { token: cfg.CHAT_PUSH_TOKEN } : {}),
    preview: cfg.CHAT_PUSH_PREVIEW,
    windowMs: cfg.CHAT_PUSH_COLLAPSE_WINDOW,
    timeoutMs: cfg.CHAT_PUSH_TIMEOUT,
    maxDeliver: NOTIFIER_JOB_MAX_DELIVER,
    gate,
    lagWaitMs: cfg.CHAT_PUSH_LAG_WAIT,
    onPost: (result, seconds) => postSeconds.observe({ result }, seconds),
  });

  const loops: PullLoop[] = [];
  loops.push(
    await pullLoop(
      nats.js,
      {
        stream: n.streams.notify,
        consumer: n.consumers.notifierJobs,
        batch: 100,
        expiresMs: 2_000,
        onError: (err, msg) => log.error({ err, seq: msg.seq }, 'push job failed; retrying'),
        onPullError: (err) => log.warn({ err }, 'pulling push jobs failed; retrying'),
      },
      (msg) => worker.handle(msg),
    ),
  );

  summary('notifications', () => ({ ...stats }), undefined, () => ({ slots: worker.collapser.size }));

  log.info(
    { push: cfg.CHAT_PUSH_URL ? new URL(cfg.CHAT_PUSH_URL).origin : null, preview: cfg.CHAT_PUSH_PREVIEW, collapseWindowMs: cfg.CHAT_PUSH_COLLAPSE_WINDOW, timeoutMs: cfg.CHAT_PUSH_TIMEOUT },
    'notifier started',
  );
  return {
    done: Promise.all(loops.map((l) => l.done)),
    async ready() {
      const [natsOk, pgOk, redisOk] = await Promise.all([
        nats.nc.flush().then(() => true, () => false),
        pool.query('SELECT 1').then(() => true, () => false),
        redis.ping().then(() => true, () => false),
      ]);
      return { checks: { nats: natsOk, postgres: pgOk, redis: redisOk } };
    },
    stats: () => ({ ...stats }),
    async stop() {
      await Promise.all(loops.map((l) => l.stop().catch((err) => log.warn({ err }, 'stopping a consumer failed'))));
      await worker.close();
      await nats.nc.drain().catch((err) => log.warn({ err }, 'nats drain failed'));
      await pool.end().catch(() => undefined);
      redis.disconnect();
    },
  };
});
