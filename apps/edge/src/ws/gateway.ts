import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, LIMITS, parseFeatures, type Feature, type ServerFrame, type ServerFrameOf } from '@chat/contracts';
import type { ConnectionRegistry } from '@chat/redis';
import { tokenFrom, type Principal, type TokenVerifier } from '../auth';
import { perLabel, type EdgeMetrics } from '../metrics';
import { TickCork } from './cork';
import type { Hub } from './hub';
import type { Outbound } from './outbound';
import { Session, type SessionDeps } from './session';

/** The WebSocket endpoint. */
export const WS_PATH = '/v1/ws';

/** Live frames kept for a connection that has not had its `hello` yet. */
const MAX_FRAMES_BEFORE_HELLO = 256;

/** Close code for a connection replaced by a newer one of the same user and device. */
export const CLOSE_REPLACED = CLOSE_CODES.replaced;

/** Longest delay a Node timer takes; a token that expires later is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Frames a connection may send before its registration finished; more is flooding (1008). */
const MAX_EARLY_FRAMES = 512;

/** The heartbeat visits a slice of the connections at a time, so pings are spread over the period. */
const HEARTBEAT_SLICES = 8;

export interface GatewayOptions {
  edgeId: string;
  verifier: TokenVerifier;
  hub: Hub;
  registry: ConnectionRegistry;
  deps: SessionDeps;
  metrics: EdgeMetrics;
  log: Logger;
  heartbeatMs: number;
  maxSocketBuffer: number;
  /** True once the edge is draining: new connections are refused with 503. */
  draining(): boolean;
  /** Whether a request's Origin may connect (CHAT_ALLOWED_ORIGINS); refused with 403. */
  originAllowed(origin: string | undefined): boolean;
  /** Devices one user may have connected at once over all edges (registry); 0 = no limit. */
  maxConnectionsPerUser?: number;
  /** Told at once when a user's last device here closed (what the edge remembers for them goes). */
  lastDeviceClosed?(userId: string): void;
  /** Presence: told when a user's device registered, when their last device here left, and when a connection closed. */
  presence?: {
    connected(userId: string): void;
    left(userId: string, at: number): void;
    closed(session: Session): void;
  };
}

/** A refused upgrade: the status, the JSON error body and extra headers. */
class Refusal {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
    readonly headers: Record<string, string> = {},
    readonly retryAfterMs?: number,
  ) {}
}

/**
 * A token from the query string that was missing, invalid or expired: browsers cannot read the
 * status of a refused upgrade, so the upgrade is accepted and the refusal sent on the socket.
 */
class InBandRefusal {
  constructor(readonly message: string) {}
}

/**
 * The WebSocket transport, on `ws` directly (not through the HTTP framework: a connection
 * lives for hours, and nothing of the upgrade request is kept once the socket is open).
 * Checks the upgrade (origin, path, draining, token, devices per user), registers the
 * device before the client can `sync`, and adapts each socket to a Session.
 *
 * Per connection it keeps one `Connection` (the Session's transport) and no closures: the
 * socket's listeners are shared functions that find it on the socket, and one timer pings
 * every connection. An idle connection is what an edge holds most of.
 */
export class Gateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
  private readonly connections = new Set<Connection>();
  private readonly heartbeat: NodeJS.Timeout;
  private tick = 0;
  private opened = 0;
  /** @internal Frames to one connection in one tick leave in one write. */
  readonly cork = new TickCork();
  readonly framesOut: (type: ServerFrame['type']) => { inc(): void };

  constructor(
    app: FastifyInstance,
    readonly o: GatewayOptions,
  ) {
    this.framesOut = perLabel((type) => o.metrics.framesOut.labels({ type }));
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(req, socket, head));
    this.heartbeat = setInterval(() => this.sweep(), Math.max(1, Math.floor(o.heartbeatMs / HEARTBEAT_SLICES)));
    this.heartbeat.unref();
  }

  /** Stops the heartbeat (the sockets are closed by whoever drains the edge). */
  stop(): void {
    clearInterval(this.heartbeat);
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Until `ws` takes the socket over, a reset must not become an unhandled error.
    socket.on('error', destroySocket);
    try {
      const { principal, expiresAt, features } = await this.admit(req);
      if (socket.destroyed) return;
      socket.removeListener('error', destroySocket);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, socket, principal, expiresAt, features));
    } catch (e) {
      if (e instanceof Refusal) return refuse(socket, e);
      if (e instanceof InBandRefusal) {
        if (socket.destroyed) return;
        socket.removeListener('error', destroySocket);
        this.wss.handleUpgrade(req, socket, head, (ws) => refuseInBand(ws, e.message));
        return;
      }
      this.o.log.error({ err: e }, 'websocket upgrade failed');
      refuse(socket, new Refusal(500, 'internal', 'upgrade failed'));
    }
  }

  /** The checks an upgrade must pass, in order; throws a Refusal, or an InBandRefusal for a bad token without the header. */
  private async admit(req: IncomingMessage): Promise<{ principal: Principal; expiresAt: number; features: ReadonlySet<Feature> }> {
    const o = this.o;
    if (!o.originAllowed(req.headers.origin)) {
      o.metrics.originRefused.inc();
      throw new Refusal(403, 'forbidden', 'origin not allowed');
    }
    const url = new URL(req.url ?? '/', 'http://edge');
    if (url.pathname !== WS_PATH) throw new Refusal(404, 'not_found', `no WebSocket endpoint at ${url.pathname}; use ${WS_PATH}`);
    if (o.draining()) throw new Refusal(503, 'unavailable', 'edge is draining; connect to another');
    const query = Object.fromEntries(url.searchParams);
    let principal: Principal;
    let expiresAt: number;
    try {
      ({ principal, expiresAt } = o.verifier.verifyConnection(tokenFrom(req.headers, query)));
    } catch (e) {
      // A client that sends the header reads the status; a browser cannot (docs/protocol.md, Connecting).
      if (req.headers.authorization !== undefined) throw new Refusal(401, 'unauthorized', (e as Error).message);
      throw new InBandRefusal((e as Error).message);
    }
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
        throw new Refusal(429, 'rate_limited', `too many connections for this user (at most ${max} devices)`, { 'retry-after': '30' }, 30_000);
      }
    }
    return { principal, expiresAt, features: parseFeatures(query['features']) };
  }

  private open(ws: WebSocket, socket: Duplex, principal: Principal, expiresAt: number, features: ReadonlySet<Feature>): void {
    const c = new Connection(this, ws, socket, principal, features, this.opened++ % HEARTBEAT_SLICES, expiresAt);
    (ws as Tagged)[CONNECTION] = c;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', onError);
    this.connections.add(c);
    this.o.metrics.connections.inc();
    void c.register();
  }

  /** @internal */
  closed(c: Connection): void {
    this.connections.delete(c);
    this.o.metrics.connections.dec();
  }

  private sweep(): void {
    const slice = this.tick++ % HEARTBEAT_SLICES;
    for (const c of this.connections) if (c.slice === slice) c.ping();
  }
}

/** Registers the WebSocket endpoint on the edge's HTTP server. */
export function registerGateway(app: FastifyInstance, o: GatewayOptions): Gateway {
  return new Gateway(app, o);
}

const CONNECTION = Symbol('connection');
type Tagged = WebSocket & { [CONNECTION]: Connection };

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as Tagged)[CONNECTION].onMessage(data, isBinary);
}
function onPong(this: WebSocket): void {
  (this as Tagged)[CONNECTION].alive = true;
}
function onClose(this: WebSocket): void {
  (this as Tagged)[CONNECTION].onClose();
}
function onError(this: WebSocket, err: Error): void {
  // Protocol errors (an oversized or malformed frame): ws has sent the close frame already.
  (this as Tagged)[CONNECTION].onError(err);
}
function destroySocket(this: Duplex): void {
  this.destroy();
}
function expireConnection(c: Connection): void {
  c.expire();
}

/** The in-band answer to a refused token: an `unauthorized` error frame, then close 4401. */
function refuseInBand(ws: WebSocket, message: string): void {
  ws.on('error', () => ws.terminate());
  const frame: ServerFrameOf<'error'> = { type: 'error', code: 'unauthorized', message };
  ws.send(JSON.stringify(frame));
  ws.close(CLOSE_CODES.unauthorized, message.slice(0, 120));
}

/** One open socket: the Session's transport, and what the socket needs until `hello`. */
class Connection implements Outbound {
  readonly session: Session;
  alive = true;
  private helloSent = false;
  /** Live frames routed here before `hello` (its previous connection's route points here already). */
  private beforeHello: Array<[ServerFrame | string, ServerFrame['type']]> | undefined;
  /** Frames the client sent before its registration finished. */
  private early: Array<[Buffer, boolean]> | undefined = [];
  private expiry?: NodeJS.Timeout;

  constructor(
    private readonly g: Gateway,
    private readonly ws: WebSocket,
    /** The socket under `ws` (its writes are corked per tick). */
    private readonly socket: Duplex,
    principal: Principal,
    features: ReadonlySet<Feature>,
    readonly slice: number,
    /** When the token expires (ms since the epoch): the connection is closed with 4401 then. */
    private readonly expiresAt: number,
  ) {
    this.session = new Session(principal.userId, principal.deviceId, g.o.deps, this, features);
    this.armExpiry();
  }

  private armExpiry(): void {
    const ms = this.expiresAt - Date.now();
    if (ms <= 0) return this.expire();
    this.expiry = setTimeout(expireConnection, Math.min(ms, MAX_TIMER_MS), this);
    this.expiry.unref();
  }

  /** The token expired: the same in-band refusal as a bad token at the upgrade. */
  expire(): void {
    this.expiry = undefined;
    if (this.session.isClosed) return;
    if (Date.now() < this.expiresAt) return this.armExpiry();
    if (this.ws.readyState === this.ws.OPEN) {
      const frame: ServerFrameOf<'error'> = { type: 'error', code: 'unauthorized', message: 'token expired' };
      this.ws.send(JSON.stringify(frame));
    }
    this.session.close(CLOSE_CODES.unauthorized, 'token expired');
  }

  /** Registers the device (before anything the client sent runs, e.g. its sync), then `hello`. */
  async register(): Promise<void> {
    const { o } = this.g;
    const s = this.session;
    o.hub.add(s)?.close(CLOSE_REPLACED, 'replaced by a newer connection of this device');
    try {
      // Online is announced in the registration's round trip, after the route in Redis's order
      // (an offline check elsewhere sees the route, or runs first and is overtaken by this online).
      await o.registry.register(s.userId, s.deviceId, o.edgeId, () => o.presence?.connected(s.userId));
    } catch (e) {
      o.log.error({ err: e }, 'device registration failed');
      s.send({ type: 'error', code: 'unavailable', message: 'registry unavailable; reconnect' });
      s.close(CLOSE_CODES.tryAgainLater, 'registry unavailable');
      return;
    }
    if (s.isClosed) return;
    s.send({ type: 'hello', userId: s.userId, deviceId: s.deviceId, edgeId: o.edgeId, serverTime: new Date().toISOString(), ...(s.features.size ? { features: [...s.features] } : {}) });
    this.helloSent = true;
    // Live routing may have reached this edge before `hello`: those frames come right after it.
    // Past the bound they were dropped, which loses nothing: they were committed before they
    // were routed, so the sync the client runs after `hello` returns them.
    const held = this.beforeHello;
    this.beforeHello = undefined;
    for (const [f, t] of held ?? []) s.sendRaw(typeof f === 'string' ? f : JSON.stringify(f), t);
    const early = this.early!;
    this.early = undefined;
    for (const [d, b] of early) this.handle(d, b);
  }

  send(frame: ServerFrame | string, type: ServerFrame['type']): void {
    if (!this.helloSent && type !== 'hello') {
      this.beforeHello ??= [];
      if (this.beforeHello.length < MAX_FRAMES_BEFORE_HELLO) this.beforeHello.push([frame, type]);
      return;
    }
    const ws = this.ws;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.g.o.maxSocketBuffer) {
      // A stalled device: never buffer without bound; it catches up with `sync` later.
      this.g.o.metrics.slowConsumersClosed.inc();
      this.session.close(CLOSE_CODES.tryAgainLater, 'too slow: reconnect and sync');
      return;
    }
    this.g.cork.hold(this.socket);
    ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    this.g.framesOut(type).inc();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    if (!this.early) return this.handle(data, isBinary);
    if (this.early.length >= MAX_EARLY_FRAMES) return this.session.close(CLOSE_CODES.policyViolation, 'flooding: too many frames before hello');
    this.early.push([data, isBinary]);
  }

  private handle(data: Buffer, isBinary: boolean): void {
    if (isBinary) this.session.onBinary();
    else void this.session.onText(data.toString('utf8'));
  }

  ping(): void {
    if (!this.alive) return this.ws.terminate(); // missed a pong: dead peer
    this.alive = false;
    this.ws.ping();
  }

  onClose(): void {
    const { o } = this.g;
    const s = this.session;
    clearTimeout(this.expiry);
    s.markClosed();
    this.g.closed(this);
    o.presence?.closed(s);
    if (!o.hub.remove(s)) return;
    const closedAt = Date.now();
    const unregistered = o.registry.unregister(s.userId, s.deviceId, o.edgeId).catch(() => undefined);
    // The user's last device here: offline the grace after the close, once its route is gone (unless live elsewhere by then).
    const last = (): boolean => o.hub.devicesOf(s.userId)[Symbol.iterator]().next().done === true;
    if (!last()) return;
    o.lastDeviceClosed?.(s.userId);
    if (o.presence) void unregistered.then(() => last() && o.presence!.left(s.userId, closedAt));
  }

  onError(err: Error): void {
    this.g.o.log.debug({ err, userId: this.session.userId }, 'websocket error');
    this.ws.terminate();
  }
}

/** Answers a refused upgrade with an HTTP error and its JSON body, and closes the socket. */
function refuse(socket: Duplex, r: Refusal): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code: r.code, message: r.message, ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}) } });
  const headers = Object.entries({ ...r.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close' })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\n${headers}\r\n${body}`);
}
