import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { CLOSE_CODES, type ServerFrame } from '@chat/contracts';
import type { ConnectionRegistry } from '@chat/redis';
import { tokenFrom, type TokenVerifier } from '../auth';
import type { EdgeMetrics } from '../metrics';
import type { Hub } from './hub';
import { Session, type SessionDeps } from './session';

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
}

/**
 * The WebSocket transport: authenticates the upgrade, registers the device (before the
 * client can `sync`), and adapts the socket to a Session.
 */
export function registerGateway(app: FastifyInstance, o: GatewayOptions): void {
  app.get(
    '/v1/ws',
    {
      websocket: true,
      preValidation: async (req, reply) => {
        try {
          (req as { principal?: unknown }).principal = await o.verifier.verify(tokenFrom(req.headers, req.query));
        } catch (e) {
          return reply.code(401).send({ error: { code: 'unauthorized', message: (e as Error).message } });
        }
      },
    },
    async (socket: WebSocket, req) => {
      const { userId, deviceId } = (req as unknown as { principal: { userId: string; deviceId: string } }).principal;
      const session = new Session(userId, deviceId, o.deps, {
        send(frame: ServerFrame | string, type: ServerFrame['type']) {
          if (socket.readyState !== socket.OPEN) return;
          if (socket.bufferedAmount > o.maxSocketBuffer) {
            // A stalled device: never buffer without bound; it catches up with `sync` later.
            o.metrics.slowConsumersClosed.inc();
            session.close(CLOSE_CODES.tryAgainLater, 'too slow: reconnect and sync');
            return;
          }
          socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
          o.metrics.framesOut.inc({ type });
        },
        close(code: number, reason: string) {
          socket.close(code, reason);
        },
      });
      // Queue frames until the device is registered, so that nothing it sends (e.g. sync)
      // runs before live routing can reach it.
      const early: Array<[Buffer, boolean]> = [];
      let ready = false;
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (!ready) early.push([data, isBinary]);
        else handle(data, isBinary);
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
      session.send({ type: 'hello', userId, deviceId, edgeId: o.edgeId, serverTime: new Date().toISOString() });
      ready = true;
      for (const [d, b] of early.splice(0)) handle(d, b);
    },
  );
}
