import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Each dependency's check, and why a failing one fails (shown on /readyz). */
export interface Readiness {
  checks: Record<string, boolean>;
  problems?: string[];
}

/** The HTTP answer to `/readyz` for a readiness (the ops port's and the edge's client port's). */
export function readinessAnswer({ checks, problems }: Readiness): { code: 200 | 503; body: { status: 'ready' | 'unavailable'; checks: Record<string, boolean>; problems?: string[] } } {
  const ok = Object.values(checks).every(Boolean);
  return { code: ok ? 200 : 503, body: { status: ok ? 'ready' : 'unavailable', checks, ...(problems?.length ? { problems } : {}) } };
}

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Undefined while the app is starting: /readyz answers 503 `starting`. */
  ready: () => Promise<Readiness> | undefined;
}

export interface OpsServer {
  /** The port it listens on (CHAT_OPS_PORT, or the one the kernel chose for 0). */
  port: number;
  /** From now on /healthz and /readyz answer 503 `stopping`; /metrics still answers. */
  stopping(): void;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The internal HTTP server every app runs beside its work: `GET /metrics` (Prometheus text
 * format), `GET /healthz` (the process is up and not stopping) and `GET /readyz` (its
 * dependencies answer). Plain node:http: three routes do not need a framework, and the edge's
 * client server stays free of operator traffic.
 */
export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  let stopping = false;
  const server: Server = createServer((req, res) => {
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
    const answer = async (): Promise<void> => {
      switch (route) {
        case 'GET /metrics':
          return send(200, o.registry.contentType, await o.registry.metrics());
        case 'GET /healthz':
          return send(stopping ? 503 : 200, JSON_TYPE, JSON.stringify({ status: stopping ? 'stopping' : 'ok' }));
        case 'GET /readyz': {
          const pending = stopping ? undefined : o.ready();
          if (!pending) return send(503, JSON_TYPE, JSON.stringify({ status: stopping ? 'stopping' : 'starting', checks: {} }));
          const { code, body } = readinessAnswer(await pending);
          return send(code, JSON_TYPE, JSON.stringify(body));
        }
        default:
          return send(404, JSON_TYPE, JSON.stringify({ error: { code: 'not_found', message: 'GET /metrics, /healthz or /readyz' } }));
      }
    };
    answer().catch((err: unknown) => send(500, JSON_TYPE, JSON.stringify({ error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } })));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`CHAT_OPS_PORT ${o.port} on ${o.host} is in use (another app instance on this host? give each its own CHAT_OPS_PORT, or 0)`) : err),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stopping: () => void (stopping = true),
    async close() {
      stopping = true;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
