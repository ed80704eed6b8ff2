import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from '@chat/contracts';

/*
 * The page reaches the edge through this server (`/v1/*`, HTTP and the WebSocket upgrade)
 * rather than at the edge's own origin. The edge sends no CORS headers, so a page on another
 * origin could open its WebSocket (WebSockets are not subject to CORS) but could not read its
 * HTTP API (conversation list, history, receipts, media), and `Authorization` makes every such
 * call a preflighted one. Passing `/v1` through keeps the edge unchanged and the page on one
 * origin. The browser's `Origin` goes through as it is, so CHAT_ALLOWED_ORIGINS on the edge
 * still decides which pages may connect (list this server's origin there when it is set).
 */

/** Request headers that describe one hop, not the request (RFC 9110 §7.6.1); `upgrade` and `connection` are put back for upgrades. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

/** The headers to send upstream: the client's, without hop-by-hop ones, with the forwarding headers added. */
export function upstreamHeaders(headers: IncomingHttpHeaders, client: { address: string | undefined; host: string | undefined }, upstreamHost: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  out['host'] = upstreamHost;
  const prior = headers['x-forwarded-for'];
  const chain = [...(typeof prior === 'string' ? [prior] : (prior ?? [])), ...(client.address ? [client.address] : [])];
  if (chain.length) out['x-forwarded-for'] = chain.join(', ');
  if (client.host) out['x-forwarded-host'] = client.host;
  out['x-forwarded-proto'] = 'http';
  return out;
}

const errorJson = (code: ErrorBody['error']['code'], message: string) => JSON.stringify({ error: { code, message } } satisfies ErrorBody);

export class EdgeProxy {
  private readonly target: URL;
  private readonly request: (options: RequestOptions, onResponse?: (res: IncomingMessage) => void) => ClientRequest;

  constructor(edgeUrl: string) {
    this.target = new URL(edgeUrl);
    this.request = this.target.protocol === 'https:' ? httpsRequest : httpRequest;
  }

  private options(req: IncomingMessage, headers: Record<string, string | string[]>): RequestOptions {
    return {
      protocol: this.target.protocol,
      hostname: this.target.hostname,
      port: this.target.port || (this.target.protocol === 'https:' ? 443 : 80),
      method: req.method,
      path: req.url,
      headers,
    };
  }

  /** Passes one HTTP request to the edge and its answer back, streaming both bodies. */
  http(req: IncomingMessage, res: ServerResponse): void {
    const headers = upstreamHeaders(req.headers, { address: req.socket.remoteAddress, host: req.headers.host }, this.target.host);
    const up = this.request(this.options(req, headers), (upRes) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(upRes.headers)) if (value !== undefined && name !== 'connection' && name !== 'keep-alive') out[name] = value;
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    up.on('error', (err) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'application/json' }).end(errorJson('unavailable', `edge unreachable: ${err.message}`));
    });
    req.pipe(up);
    // The client went away before the answer was complete: so does the request to the edge.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
  }

  /**
   * Passes a WebSocket upgrade to the edge. The edge's answer (101, or a refusal such as 401,
   * 403 or 429 with its JSON body) goes back to the client as it is; after a 101 the two
   * sockets are joined.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const headers = upstreamHeaders(req.headers, { address: req.socket.remoteAddress, host: req.headers.host }, this.target.host);
    headers['connection'] = 'Upgrade';
    headers['upgrade'] = req.headers.upgrade ?? 'websocket';
    const up = this.request(this.options(req, headers));
    socket.on('error', () => up.destroy());
    up.on('upgrade', (upRes, upSocket, upHead) => {
      socket.write(statusBlock(upRes, true));
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      upSocket.on('error', () => socket.destroy());
      upSocket.on('close', () => socket.destroy());
      socket.on('close', () => upSocket.destroy());
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });
    up.on('response', (upRes) => {
      socket.write(statusBlock(upRes, false));
      upRes.pipe(socket);
    });
    up.on('error', (err) => {
      if (!socket.writable) return void socket.destroy();
      const body = errorJson('unavailable', `edge unreachable: ${err.message}`);
      socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
    up.end();
  }
}

/**
 * The status line and headers of an upstream answer, as raw HTTP/1.1 for the client's socket.
 * A refused upgrade's body is passed on decoded and ends with the connection, so its framing
 * headers are replaced by `connection: close`.
 */
export function statusBlock(res: Pick<IncomingMessage, 'statusCode' | 'statusMessage' | 'rawHeaders'>, upgraded: boolean): string {
  const lines = [`HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}`];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i]!;
    if (!upgraded && /^(transfer-encoding|connection|keep-alive)$/i.test(name)) continue;
    lines.push(`${name}: ${res.rawHeaders[i + 1]}`);
  }
  if (!upgraded) lines.push('connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}
