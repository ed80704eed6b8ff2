import type { Logger } from 'pino';
import { runApp } from '@chat/app';
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

runApp('notifier', NotifierConfig, async ({ cfg, log, summary }) => {
  const n = namesFor(cfg.CHAT_NS);
  const nats = await connectNats(cfg.NATS_URL, 'notifier');
  await ensureConsumers(nats, n, log);
  const pool = createPool(cfg.DATABASE_URL, cfg.CHAT_PG_POOL);
  pool.on('error', (err) => log.warn({ err }, 'idle postgres connection failed'));
  const redis = createRedis(cfg.REDIS_URL, n.redisPrefix);
  // Read only: the TTL is only used when registering.
  const registry = new ConnectionRegistry(redis, cfg.CHAT_REGISTRY_TTL);
  const store = new NotifierStore(pool);
  const stats: NotifierStats = newStats();
  if (!cfg.CHAT_PUSH_URL) log.warn('CHAT_PUSH_URL is not set: pushes are logged, not sent');

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
