import WebSocket from 'ws';
import type { Json } from './harness';

/** Frames an accepted socket has received, recorded from the first byte (nothing sent before the caller looks is missed). */
export interface Received {
  frames: Json[];
  /** Resolves with the first frame of this type, received already or later. */
  next(type: string): Promise<Json>;
}

/**
 * A WebSocket upgrade as a client sees it: the HTTP status and JSON body of a refusal, or 101
 * and the open socket (the caller closes it) with every frame it receives.
 */
export function upgrade(
  url: string,
  headers: Record<string, string> = {},
  opts: WebSocket.ClientOptions = {},
): Promise<{ status: number; body?: Json; ws?: WebSocket; received?: Received }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { ...opts, headers });
    // Listening before 'open': the server's first frame may share the TCP segment with the 101.
    const frames: Received['frames'] = [];
    const waiting: Array<{ type: string; resolve: (f: Json) => void }> = [];
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      frames.push(f);
      for (const w of waiting.filter((x) => x.type === f.type)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(f);
      }
    });
    const received: Received = {
      frames,
      next: (type) => {
        const seen = frames.find((f) => f.type === type);
        return seen ? Promise.resolve(seen) : new Promise((r) => waiting.push({ type, resolve: r }));
      },
    };
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: body ? JSON.parse(body) : undefined });
        ws.terminate();
      });
    });
    ws.on('open', () => resolve({ status: 101, ws, received }));
    ws.on('error', () => undefined);
  });
}

/** The status of an upgrade alone; an accepted socket is closed again. */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await upgrade(url, headers);
  r.ws?.close();
  return r.status;
}
