import WebSocket from 'ws';
import type { Json } from './harness';
import { token } from './system';

/** A bare WebSocket client: only docs/protocol.md, no SDK. */
export interface RawSocket {
  ws: WebSocket;
  /** Every frame received, in order, `hello` first. */
  frames: Json[];
  /** Resolves with the close code. */
  closed: Promise<number>;
  send(frame: Json): void;
  /**
   * The first frame received that matches (a frame type, or a predicate) and that no earlier
   * `next` returned; waits for one if none has arrived yet, and fails after `timeoutMs`.
   */
  next(pick: string | ((frame: Json) => boolean), timeoutMs?: number): Promise<Json>;
  close(): void;
}

/** Opens a raw socket for `user` (device `deviceId`, else the token's default) and resolves once `hello` arrived. */
export async function rawSocket(wsUrl: string, user: string, deviceId?: string): Promise<RawSocket> {
  const ws = new WebSocket(`${wsUrl}?access_token=${await token(user, deviceId ? { deviceId } : {})}`);
  const frames: Json[] = [];
  const returned = new Set<Json>();
  const waiting: Array<{ match: (f: Json) => boolean; resolve: (f: Json) => void }> = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Json;
    frames.push(frame);
    const i = waiting.findIndex((w) => w.match(frame));
    if (i < 0) return;
    returned.add(frame);
    waiting.splice(i, 1)[0]!.resolve(frame);
  });
  const next = (pick: string | ((frame: Json) => boolean), timeoutMs = 15_000): Promise<Json> => {
    const match = typeof pick === 'string' ? (f: Json) => f.type === pick : pick;
    const arrived = frames.find((f) => !returned.has(f) && match(f));
    if (arrived) {
      returned.add(arrived);
      return Promise.resolve(arrived);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${typeof pick === 'string' ? `a ${pick} frame` : 'a frame'}`)), timeoutMs);
      waiting.push({ match, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  };
  await new Promise((resolve, reject) => {
    ws.on('error', reject);
    next('hello').then(resolve, reject);
  });
  return { ws, frames, closed, send: (frame) => ws.send(JSON.stringify(frame)), next, close: () => ws.close() };
}
