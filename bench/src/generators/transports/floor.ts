/**
 * The floor's protocol (bench/floor/server.ts) as a PairTransport: raw `ws`, identity in the URL
 * (`u`, `p`, `c`: user, peer, conversation), `send` {id, text} → `sent` {id, seq} and `new` to
 * the peer; `delivered` / `read` {upToSeq} out, `receipt` {status, upToSeq} in. No typing.
 */
import WebSocket from 'ws';
import type { LoadConn, PairTransport, ReceiptStatus, TransportFactory } from './types';
import { JsonSocketConn } from './ws';

type Frame = { type: string; [k: string]: unknown };

let counter = 0;

class FloorConn extends JsonSocketConn<Frame, { resolve: (seq: number) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> implements LoadConn {
  private cb: (text: string, seq: number) => void = () => undefined;
  private receiptCb: (status: ReceiptStatus, upToSeq: number) => void = () => undefined;
  private errorCb: (message: string) => void = () => undefined;

  private constructor(ws: WebSocket, timeoutMs: number) {
    super(ws, timeoutMs);
  }

  static open(url: string, timeoutMs: number): Promise<FloorConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const conn = new FloorConn(ws, timeoutMs);
      ws.once('open', () => resolve(conn));
      ws.once('error', reject);
    });
  }

  protected onFrame(f: Frame): void {
    if (f.type === 'new') return this.cb(f['text'] as string, f['seq'] as number);
    if (f.type === 'receipt') return this.receiptCb(f['status'] as ReceiptStatus, f['upToSeq'] as number);
    if (f.type !== 'sent' && f.type !== 'error') return;
    const id = f['id'] as string | undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!p || !id) return this.errorCb(String(f['message']));
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (f.type === 'error') p.reject(new Error(String(f['message'])));
    else p.resolve(f['seq'] as number);
  }

  send(text: string): Promise<number> {
    if (this.closed) return Promise.reject(new Error('closed'));
    const id = `m${(++counter).toString(36)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('send timed out'));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ type: 'send', id, text }));
    });
  }

  onMessage(cb: (text: string, seq: number) => void): void {
    this.cb = cb;
  }

  sendReceipt(status: ReceiptStatus, upToSeq: number): void {
    if (!this.closed) this.ws.send(JSON.stringify({ type: status, upToSeq }));
  }

  onReceipt(cb: (status: ReceiptStatus, upToSeq: number) => void): void {
    this.receiptCb = cb;
  }

  onError(cb: (message: string) => void): void {
    this.errorCb = cb;
  }
}

export const createTransport: TransportFactory = async (args) => {
  const prefix = typeof args['userPrefix'] === 'string' ? args['userPrefix'] : `f${Date.now().toString(36)}`;
  const timeoutMs = Number(args['sendTimeoutMs'] ?? 15_000);
  const conns: FloorConn[] = [];
  return {
    async connectPair(i) {
      const [ua, ub, c] = [`${prefix}-${i}a`, `${prefix}-${i}b`, `${prefix}-${i}`];
      const at = (u: string, p: string) => `${args.url}/?u=${encodeURIComponent(u)}&p=${encodeURIComponent(p)}&c=${encodeURIComponent(c)}`;
      const pair = await Promise.all([FloorConn.open(at(ua, ub), timeoutMs), FloorConn.open(at(ub, ua), timeoutMs)]);
      conns.push(...pair);
      return pair;
    },
    async close() {
      await Promise.all(conns.map((c) => c.close()));
    },
  } satisfies PairTransport;
};
