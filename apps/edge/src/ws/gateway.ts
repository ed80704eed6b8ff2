import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { CLOSE_CODES, parseFeatures, type ServerFrame } from '@chat/contracts';
import type { ConnectionRegistry } from '@chat/redis';
import { tokenFrom, type TokenVerifier } from '../auth';
import { perLabel, type EdgeMetrics } from '../metrics';
import type { Hub } from './hub';
import { Session, type SessionDeps } from './session';

/** Live frames kept for a connection that has not had its `hello` yet. */
const MAX_FRAMES_BEFORE_HELLO = 256;

/** Close code for a connection replaced by a newer one of the same user and device. */
export const CLOSE_REPLACED = 4001;

export interface GatewayOptions {
  edgeId: string;
  verifier: TokenVerifier;
  hub: Hub;
  registry: ConnectionRegistry;
  deps: SessionDeps;
  metrics: EdgeMetrics;
  heartbeatMs: number;
  maxSocketBuffer: number;
  /** True once the edge is draining: new connections are refused with 503. */
  draining(): boolean;
  /** Devices one user may have connected at once over all edges (registry); 0 = no limit. */
  maxConnectionsPerUser?: number;
}

/** Frames a connection may send before its registration finished; more is flooding (1008). */
const MAX_EARLY_FRAMES = 512;

/**
 * The WebSocket transport: authenticates the upgrade, registers the device (before the
 * client can `sync`), and adapts the socket to a Session.
 */
export function registerGateway(app: FastifyInstance, o: GatewayOptions): void {
  const framesOut = perLabel((type) => o.metrics.framesOut.labels({ type }));
  app.get(
    '/v1/ws',
    {
      websocket: true,
      preValidation: async (req, reply) => {
        if (o.draining()) return reply.code(503).send({ error: { code: 'unavailable', message: 'edge is draining; connect to another' } });
        let principal: { userId: string; deviceId: string };
        try {
          principal = await o.verifier.verify(tokenFrom(req.headers, req.query));
        } catch (e) {
          return reply.code(401).send({ error: { code: 'unauthorized', message: (e as Error).message } });
        }
        (req as { principal?: unknown }).principal = principal;
        const max = o.maxConnectionsPerUser ?? 0;
        if (max > 0) {
          // Live routes in the registry, over all edges; the same device reconnecting replaces itself.
          // Registry down: fail open (registration itself will then refuse with 1013).
          const others = await o.registry.devices(principal.userId).then(
            (routes) => routes.filter((r) => r.deviceId !== principal.deviceId).length,
            () => 0,
          );
          if (others >= max) {
            o.metrics.rateLimited.inc({ kind: 'connections' });
            return reply
              .code(429)
              .header('retry-after', '30')
              .send({ error: { code: 'rate_limited', message: `too many connections for this user (at most ${max} devices)`, retryAfterMs: 30_000 } });
          }
        }
      },
    },
    async (socket: WebSocket, req) => {
      const { userId, deviceId } = (req as unknown as { principal: { userId: string; deviceId: string } }).principal;
      // `hello` is always the first frame. Live frames routed here while the device registers
      // (its previous connection's route already points at this edge) wait for it; past the
      // bound they are dropped, which loses nothing: they were committed before they were
      // routed, so the sync the client runs after `hello` returns them.
      let helloSent = false;
      let beforeHello: Array<[ServerFrame | string, ServerFrame['type']]> = [];
      const features = parseFeatures((req.query as Record<string, unknown> | undefined)?.['features']);
      const session = new Session(userId, deviceId, o.deps, {
        send(frame: ServerFrame | string, type: ServerFrame['type']) {
          if (!helloSent && type !== 'hello') {
            if (beforeHello.length < MAX_FRAMES_BEFORE_HELLO) beforeHello.push([frame, type]);
            return;
          }
          if (socket.readyState !== socket.OPEN) return;
          if (socket.bufferedAmount > o.maxSocketBuffer) {
            // A stalled device: never buffer without bound; it catches up with `sync` later.
            o.metrics.slowConsumersClosed.inc();
            session.close(CLOSE_CODES.tryAgainLater, 'too slow: reconnect and sync');
            return;
          }
          socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
          framesOut(type).inc();
        },
        close(code: number, reason: string) {
          socket.close(code, reason);
        },
      }, features);
      // Queue frames until the device is registered, so that nothing it sends (e.g. sync)
      // runs before live routing can reach it.
      const early: Array<[Buffer, boolean]> = [];
      let ready = false;
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (ready) return handle(data, isBinary);
        if (early.length >= MAX_EARLY_FRAMES) return session.close(CLOSE_CODES.policyViolation, 'flooding: too many frames before hello');
        early.push([data, isBinary]);
      });
      const handle = (data: Buffer, isBinary: boolean) => {
        if (isBinary) session.onBinary();
        else void session.onText(data.toString('utf8'));
      };
      let alive = true;
      socket.on('pong', () => (alive = true));
      const heartbeat = setInterval(() => {
        if (!alive) return socket.terminate(); // missed a pong: dead peer
        alive = false;
        socket.ping();
      }, o.heartbeatMs);
      socket.on('close', () => {
        clearInterval(heartbeat);
        session.markClosed();
        o.metrics.connections.dec();
        if (o.hub.remove(session)) void o.registry.unregister(userId, deviceId, o.edgeId).catch(() => undefined);
      });
      o.metrics.connections.inc();
      o.hub.add(session)?.close(CLOSE_REPLACED, 'replaced by a newer connection of this device');
      try {
        await o.registry.register(userId, deviceId, o.edgeId);
      } catch (e) {
        req.log.error({ err: e }, 'device registration failed');
        session.send({ type: 'error', code: 'unavailable', message: 'registry unavailable; reconnect' });
        session.close(CLOSE_CODES.tryAgainLater, 'registry unavailable');
        return;
      }
      session.send({ type: 'hello', userId, deviceId, edgeId: o.edgeId, serverTime: new Date().toISOString(), ...(features.size ? { features: [...features] } : {}) });
      helloSent = true;
      for (const [f, t] of beforeHello) session.sendRaw(typeof f === 'string' ? f : JSON.stringify(f), t);
      beforeHello = [];
      ready = true;
      for (const [d, b] of early.splice(0)) handle(d, b);
    },
  );
}
