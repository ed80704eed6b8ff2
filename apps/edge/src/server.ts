import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Logger } from 'pino';
import { LIMITS } from '@chat/contracts';
import type { EdgeMetrics } from './metrics';

export interface Probes {
  ready(): Promise<Record<string, boolean>>;
}

/** The fastify instance with health, readiness and metrics; routes are added by the caller. */
export async function createServer(log: Logger, metrics: EdgeMetrics, probes: Probes): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log,
    // Tokens may travel in the query string (browsers): request URLs are never logged.
    disableRequestLogging: true,
    bodyLimit: LIMITS.maxFrameBytes,
  });
  await app.register(websocket, {
    options: { maxPayload: LIMITS.maxFrameBytes, perMessageDeflate: false },
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks = await probes.ready();
    const ok = Object.values(checks).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', checks });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app as unknown as FastifyInstance;
}
