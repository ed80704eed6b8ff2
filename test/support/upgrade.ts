import WebSocket from 'ws';
import type { Json } from './harness';

/**
 * A WebSocket upgrade as a client sees it: the HTTP status and JSON body of a refusal, or 101
 * and the open socket (the caller closes it).
 */
export function upgrade(url: string, headers: Record<string, string> = {}, opts: WebSocket.ClientOptions = {}): Promise<{ status: number; body?: Json; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { ...opts, headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: body ? JSON.parse(body) : undefined });
        ws.terminate();
      });
    });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('error', () => undefined);
  });
}

/** The status of an upgrade alone; an accepted socket is closed again. */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await upgrade(url, headers);
  r.ws?.close();
  return r.status;
}
