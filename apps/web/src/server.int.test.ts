import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { DEV_JWT_SECRET, ErrorBody } from '@chat/contracts';
import { startWebServer, type WebServer } from './server';
import { DevTokenResponse, PageConfig } from './shared';

/**
 * The web server on its own, in front of a stand-in edge that echoes what it receives: the
 * development sign-in (and its refusal in production), the page's config, and `/v1` passed
 * through for HTTP and WebSocket upgrades.
 */
const log = pino({ level: 'silent' });
const assets = new Map([
  ['/index.html', { body: '<!doctype html><title>t</title>', contentType: 'text/html; charset=utf-8' }],
  ['/main.js', { body: 'console.log(1)', contentType: 'text/javascript; charset=utf-8' }],
]);

let edge: Server;
let edgeUrl: string;
let dev: WebServer;
let prod: WebServer;

beforeAll(async () => {
  const wss = new WebSocketServer({ noServer: true });
  edge = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(req.url?.startsWith('/v1/missing') ? 404 : 200, { 'content-type': 'application/json', 'x-edge': 'yes' }).end(body);
    });
  });
  edge.on('upgrade', (req: IncomingMessage, socket, head) => {
    if (req.url?.includes('refuse')) {
      const body = JSON.stringify({ error: { code: 'unauthorized', message: 'invalid token' } });
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ type: 'hello', origin: req.headers.origin, forwardedFor: req.headers['x-forwarded-for'], url: req.url }));
      ws.on('message', (data) => ws.send(`echo:${String(data)}`));
    });
  });
  await new Promise<void>((r) => edge.listen(0, '127.0.0.1', r));
  edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
  const base = { host: '127.0.0.1', port: 0, edgeUrl, assets, log };
  dev = await startWebServer({ ...base, devSignIn: true });
  prod = await startWebServer({ ...base, devSignIn: false });
});

afterAll(async () => {
  await dev?.close();
  await prod?.close();
  edge?.closeAllConnections();
  await new Promise((r) => edge?.close(r));
});

const postToken = (server: WebServer, body: string) => fetch(`${server.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('development sign-in', () => {
  it('mints a client token the edge accepts: HS256 with sub, did and exp', async () => {
    const res = await postToken(dev, JSON.stringify({ userId: 'alice', deviceId: 'web-1' }));
    expect(res.status).toBe(200);
    const t = DevTokenResponse.parse(await res.json());
    expect([t.userId, t.deviceId]).toEqual(['alice', 'web-1']);
    const { payload, protectedHeader } = await jwtVerify(t.token, new TextEncoder().encode(DEV_JWT_SECRET), { algorithms: ['HS256'] });
    expect([protectedHeader.alg, payload.sub, payload['did']]).toEqual(['HS256', 'alice', 'web-1']);
    expect(payload.exp! * 1000).toBe(Date.parse(t.expiresAt));
    expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(23 * 3600_000);
  });

  it('signs with CHAT_JWT_SECRET when one is set', async () => {
    const own = await startWebServer({ host: '127.0.0.1', port: 0, edgeUrl, assets, log, devSignIn: true, jwtSecret: 'a-secret-of-this-deployment' });
    try {
      const t = DevTokenResponse.parse(await (await postToken(own, JSON.stringify({ userId: 'alice' }))).json());
      expect(t.deviceId).toBe('default');
      await expect(jwtVerify(t.token, new TextEncoder().encode('a-secret-of-this-deployment'))).resolves.toBeTruthy();
      await expect(jwtVerify(t.token, new TextEncoder().encode(DEV_JWT_SECRET))).rejects.toThrow();
    } finally {
      await own.close();
    }
  });

  it('refuses bad input with a clear error', async () => {
    const cases: Array<[string, number, RegExp]> = [
      ['not json', 400, /body must be JSON/],
      [JSON.stringify({ userId: 'bad name!' }), 400, /userId: must be 1-64 chars/],
      [JSON.stringify({}), 400, /userId/],
      [JSON.stringify({ userId: 'alice', admin: true }), 400, /admin/],
      [JSON.stringify({ userId: 'a'.repeat(5000) }), 413, /body over 4096 bytes/],
    ];
    for (const [body, status, message] of cases) {
      const res = await postToken(dev, body);
      const err = ErrorBody.parse(await res.json());
      expect([res.status, err.error.message], body.slice(0, 40)).toEqual([status, expect.stringMatching(message)]);
    }
    const get = await fetch(`${dev.url}/dev/token`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
  });

  it('is not there with NODE_ENV=production: 404 as for any unknown path, and the page is told', async () => {
    const res = await postToken(prod, JSON.stringify({ userId: 'mallory' }));
    expect(res.status).toBe(404);
    expect(ErrorBody.parse(await res.json()).error.code).toBe('not_found');
    expect(PageConfig.parse(await (await fetch(`${prod.url}/config.json`)).json()).devSignIn).toBe(false);
    expect(PageConfig.parse(await (await fetch(`${dev.url}/config.json`)).json()).devSignIn).toBe(true);
  });
});

describe('page and assets', () => {
  it('serves the page at / and its files, and 404 for the rest', async () => {
    const page = await fetch(`${dev.url}/`);
    expect([page.status, page.headers.get('content-type'), page.headers.get('referrer-policy')]).toEqual([200, 'text/html; charset=utf-8', 'no-referrer']);
    expect((await fetch(`${dev.url}/main.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${dev.url}/nope.js`)).status).toBe(404);
  });

  it('tells the page to use its own origin for the HTTP API and the WebSocket', async () => {
    const cfg = PageConfig.parse(await (await fetch(`${dev.url}/config.json`)).json());
    expect(cfg).toEqual({ httpUrl: dev.url, wsUrl: `${dev.url.replace('http:', 'ws:')}/v1/ws`, devSignIn: true });
  });
});

describe('/v1 passed through to the edge', () => {
  it('HTTP: method, path, query, body and headers go through; the answer comes back as it is', async () => {
    const res = await fetch(`${dev.url}/v1/media?x=1`, { method: 'POST', headers: { authorization: 'Bearer t', origin: 'http://page.test', 'content-type': 'application/json' }, body: '{"a":1}' });
    expect([res.status, res.headers.get('x-edge')]).toEqual([200, 'yes']);
    const seen = (await res.json()) as { method: string; url: string; headers: Record<string, string>; body: string };
    expect([seen.method, seen.url, seen.body]).toEqual(['POST', '/v1/media?x=1', '{"a":1}']);
    expect(seen.headers).toMatchObject({ authorization: 'Bearer t', origin: 'http://page.test', host: new URL(edgeUrl).host, 'x-forwarded-for': '127.0.0.1' });
    expect((await fetch(`${dev.url}/v1/missing`)).status).toBe(404);
  });

  it('WebSocket: the upgrade and frames go both ways, with the browser’s Origin', async () => {
    const ws = new WebSocket(`${dev.url.replace('http:', 'ws:')}/v1/ws?access_token=t`, { origin: 'http://page.test' });
    const frames: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (d) => {
        frames.push(String(d));
        if (frames.length === 1) ws.send('ping');
        if (frames.length === 2) resolve();
      });
      ws.on('error', reject);
    });
    ws.close();
    expect(JSON.parse(frames[0]!)).toEqual({ type: 'hello', origin: 'http://page.test', forwardedFor: '127.0.0.1', url: '/v1/ws?access_token=t' });
    expect(frames[1]).toBe('echo:ping');
  });

  it('WebSocket: a refused upgrade reaches the client with its status and body', async () => {
    const ws = new WebSocket(`${dev.url.replace('http:', 'ws:')}/v1/ws?refuse=1`);
    const [status, body] = await new Promise<[number, string]>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve([res.statusCode ?? 0, text]));
      });
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401);
    expect(ErrorBody.parse(JSON.parse(body)).error.code).toBe('unauthorized');
  });

  it('an unreachable edge is 502 unavailable', async () => {
    const closed = await startWebServer({ host: '127.0.0.1', port: 0, edgeUrl: 'http://127.0.0.1:1', assets, log, devSignIn: true });
    try {
      const res = await fetch(`${closed.url}/v1/conversations`);
      expect(res.status).toBe(502);
      expect(ErrorBody.parse(await res.json()).error.code).toBe('unavailable');
    } finally {
      await closed.close();
    }
  });
});
