import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ChatError, HTTP_STATUS, type ErrorBody, type ErrorCode } from '@chat/contracts';
import { mintToken } from '@chat/ops';
import { EdgeProxy } from './proxy';
import { DevTokenRequest, type DevTokenResponse, type PageConfig } from './shared';

/** A file the server answers from memory. */
export interface Asset {
  body: string | Uint8Array;
  contentType: string;
}

export interface WebServerOptions {
  host: string;
  port: number;
  /** The edge's origin; `/v1/*` goes there. */
  edgeUrl: string;
  /** `POST /dev/token` answers only when true (NODE_ENV is not production). */
  devSignIn: boolean;
  /** Signs development tokens; unset: the development secret (as the edge's default). */
  jwtSecret?: string;
  /** Served by path (`/index.html`, `/main.js`, …); `/` is `/index.html`. */
  assets: ReadonlyMap<string, Asset>;
  log: Logger;
}

export interface WebServer {
  server: Server;
  /** http://host:port as it listens. */
  url: string;
  close(): Promise<void>;
}

const TOKEN_TTL = '24h';
const MAX_BODY_BYTES = 4096;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
}

function sendError(res: ServerResponse, code: ErrorCode, message: string, status = HTTP_STATUS[code]): void {
  sendJson(res, status, { error: { code, message } } satisfies ErrorBody);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ChatError('payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new ChatError('bad_request', 'body must be JSON, e.g. {"userId":"alice"}');
  }
}

/** The page's view of where the edge is: this server's own origin, which passes `/v1` on. */
export function pageConfig(hostHeader: string | undefined, listening: string, devSignIn: boolean): PageConfig {
  const host = hostHeader && /^[A-Za-z0-9.[\]:-]+$/.test(hostHeader) ? hostHeader : new URL(listening).host;
  return { httpUrl: `http://${host}`, wsUrl: `ws://${host}/v1/ws`, devSignIn };
}

/**
 * The web client's server: the page and its bundle, `/config.json`, the development sign-in
 * (`POST /dev/token`, 404 when `devSignIn` is off, as for any unknown path) and `/v1/*` passed
 * through to the edge (proxy.ts says why).
 */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const proxy = new EdgeProxy(opts.edgeUrl);
  let url = '';

  async function devToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = DevTokenRequest.safeParse(await readJson(req));
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
      return sendError(res, 'bad_request', `${why} (expected {"userId": "alice", "deviceId"?: "laptop"})`);
    }
    const { userId, deviceId = 'default' } = parsed.data;
    const now = Math.floor(Date.now() / 1000);
    const token = await mintToken({ userId, deviceId, ttl: TOKEN_TTL, now, ...(opts.jwtSecret ? { secret: opts.jwtSecret } : {}), env: { NODE_ENV: 'development' } });
    const expiresAt = new Date((now + 24 * 3600) * 1000).toISOString();
    opts.log.info({ userId, deviceId }, 'development token issued');
    sendJson(res, 200, { token, userId, deviceId, expiresAt } satisfies DevTokenResponse);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/v1' || path.startsWith('/v1/')) return proxy.http(req, res);
    if (path === '/dev/token') {
      if (!opts.devSignIn) return sendError(res, 'not_found', `no route ${req.method} ${path}`);
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        return sendError(res, 'bad_request', 'use POST /dev/token {"userId": "alice"}', 405);
      }
      return devToken(req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 'not_found', `no route ${req.method} ${path}`);
    if (path === '/config.json') return sendJson(res, 200, pageConfig(req.headers.host, url, opts.devSignIn));
    const asset = opts.assets.get(path === '/' ? '/index.html' : path);
    if (!asset) return sendError(res, 'not_found', `no route ${req.method} ${path}`);
    res.writeHead(200, {
      'content-type': asset.contentType,
      'content-length': Buffer.byteLength(asset.body),
      // Rebuilt at every start: always revalidated.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      // Media URLs carry the token in their query (an <img> cannot send headers): never in a Referer.
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof ChatError) return sendError(res, err.code, err.message);
      opts.log.error({ err }, 'request failed');
      sendError(res, 'internal', 'internal error');
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path.startsWith('/v1/')) return proxy.upgrade(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
