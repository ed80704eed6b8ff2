import { pino } from 'pino';
import { loadEdgeConfig, names } from '@chat/contracts';
import { connectNats } from '@chat/nats';
import { createPool } from '@chat/postgres';
import { ConnectionRegistry, createRedis } from '@chat/redis';
import { edgeConsumerConfig, ensureConsumer } from '@chat/streams';
import { TokenVerifier } from './auth';
import { CommandGateway } from './commands';
import { DeliveryConsumer } from './delivery/consumer';
import { registerHttpRoutes } from './http/routes';
import { createMetrics, registerConsumerGauges } from './metrics';
import { ReadModels } from './queries';
import { createServer } from './server';
import { registerGateway } from './ws/gateway';
import { Hub } from './ws/hub';
import { CLOSE_CODES } from '@chat/contracts';

const cfg = loadEdgeConfig();
const log = pino({ level: cfg.LOG_LEVEL, base: { app: 'edge', edge: cfg.EDGE_ID } });
const n = names(cfg.CHAT_NS);

const nats = await connectNats(cfg.NATS_URL, `edge-${cfg.EDGE_ID}`);
const pool = createPool(cfg.DATABASE_URL, cfg.CHAT_PG_POOL);
const redis = createRedis(cfg.REDIS_URL, n.redisPrefix);
const registry = new ConnectionRegistry(redis, cfg.CHAT_REGISTRY_TTL);
const metrics = createMetrics(cfg.EDGE_ID);
registerConsumerGauges(metrics.registry, nats.jsm, [n.streams.cmd, n.streams.events, n.streams.delivery]);

const edgeConsumer = edgeConsumerConfig(n, cfg.EDGE_ID);
await ensureConsumer(nats.jsm, edgeConsumer.stream, edgeConsumer.config);

const rm = new ReadModels(pool);
const hub = new Hub();
const gateway = new CommandGateway(nats.nc, nats.js, n, cfg.EDGE_ID, cfg.CHAT_COMMAND_TIMEOUT);
gateway.start();

// The oldest stream position still kept; cursors before it cannot be served (sync.reset).
let firstSeq = { value: 0, at: 0 };
async function oldestPosition(): Promise<number> {
  if (Date.now() - firstSeq.at > 10_000) {
    const si = await nats.jsm.streams.info(n.streams.events);
    firstSeq = { value: si.state.first_seq, at: Date.now() };
  }
  return firstSeq.value;
}

const app = await createServer(log, metrics, {
  async ready() {
    const [natsOk, pgOk, redisOk] = await Promise.all([
      nats.nc.flush().then(() => true, () => false),
      pool.query('SELECT 1').then(() => true, () => false),
      redis.ping().then(() => true, () => false),
    ]);
    return { nats: natsOk, postgres: pgOk, redis: redisOk };
  },
});
const verifier = new TokenVerifier(cfg.CHAT_JWT_SECRET);
registerGateway(app, {
  edgeId: cfg.EDGE_ID,
  verifier,
  hub,
  registry,
  metrics,
  heartbeatMs: cfg.CHAT_HEARTBEAT,
  maxSocketBuffer: cfg.CHAT_MAX_SOCKET_BUFFER,
  deps: {
    execute: (c) => gateway.execute(c),
    meta: (u, d) => gateway.meta(u, d),
    sync: (u, after, limit) => rm.inboxAfter(u, after, limit),
    oldestPosition,
    maxBadFramesPerMinute: cfg.CHAT_MAX_BAD_FRAMES,
    now: Date.now,
    onFrameIn: (type) => metrics.framesIn.inc({ type }),
    onCommand: (type, outcome, seconds) => {
      metrics.commands.inc({ type, outcome });
      metrics.commandSeconds.observe({ type }, seconds);
    },
  },
});
registerHttpRoutes(app, verifier, rm);

const delivery = new DeliveryConsumer(nats.js, edgeConsumer.stream, edgeConsumer.config.durable_name, hub, log, (k) => metrics.deliveries.inc(k));
await delivery.start();

// Heartbeat: keep this edge's device routes alive in the registry.
const refresh = setInterval(() => {
  const devices = hub.all().map((s) => ({ userId: s.userId, deviceId: s.deviceId, edgeId: cfg.EDGE_ID }));
  registry.refresh(devices).catch((err) => log.warn({ err }, 'registry refresh failed'));
}, Math.max(1000, Math.floor(cfg.CHAT_REGISTRY_TTL / 3)));

const address = await app.listen({ host: cfg.CHAT_EDGE_HOST, port: cfg.CHAT_EDGE_PORT });
log.info({ address, ws: `${address.replace('http', 'ws')}/v1/ws` }, 'edge listening');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'edge stopping');
  clearInterval(refresh);
  for (const s of hub.all()) s.close(CLOSE_CODES.goingAway, 'server shutting down');
  await app.close().catch(() => undefined);
  await delivery.stop();
  await gateway.stop();
  await nats.nc.drain().catch(() => undefined);
  await Promise.allSettled([pool.end(), redis.quit()]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
