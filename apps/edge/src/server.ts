import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { LIMITS } from '@chat/contracts';
import { readinessAnswer, type Readiness } from '@chat/app';
import type { EdgeMetrics } from './metrics';

export interface Probes {
  /** Each dependency's check, and why a failing one fails (shown on /readyz, here and on the ops port). */
  ready(): Promise<Readiness>;
}

export interface ServerOptions {
  /** Whether a request's Origin may proceed (`originPolicy(CHAT_ALLOWED_ORIGINS)`); absent = any. */
  originAllowed?: (origin: string | undefined) => boolean;
}

/**
 * Whether a request's Origin may proceed, for HTTP and WebSocket upgrades alike. Browsers
 * always send Origin on WebSocket upgrades and cross-origin requests; other clients (servers,
 * mobile apps, probes) send none and are not affected. An empty list allows any.
 */
export function originPolicy(allowed: readonly string[] = []): (origin: string | undefined) => boolean {
  const origins = new Set(allowed);
  return (origin) => origins.size === 0 || origin === undefined || origins.has(origin);
}

/**
 * The fastify instance with health and readiness (for the load balancer in front of the
 * clients' port); routes and the WebSocket gateway are added by the caller. Metrics are on the
 * ops port only.
 */
export async function createServer(log: Logger, metrics: EdgeMetrics, probes: Probes, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log,
    // Tokens may travel in the query string (browsers): request URLs are never logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: LIMITS.maxFrameBytes,
  });
  const originAllowed = opts.originAllowed;
  if (originAllowed) {
    app.addHook('onRequest', async (req, reply) => {
      if (originAllowed(req.headers.origin)) return;
      metrics.originRefused.inc();
      return reply.code(403).send({ error: { code: 'forbidden', message: 'origin not allowed' } });
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const { code, body } = readinessAnswer(await probes.ready());
    return reply.code(code).send(body);
  });
  return app as unknown as FastifyInstance;
}
