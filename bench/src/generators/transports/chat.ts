/**
 * The chat protocol as a PairTransport: raw `ws` (the SDK's de-duplication and outbox are not
 * what is measured), one direct conversation per pair, `message.send` → `message.sent` {seq};
 * `message.delivered` / `message.read` {conversationId, upToSeq} out, `receipt` frames in;
 * `typing` start out and in.
 */
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import type { LoadConn, PairTransport, ReceiptStatus, TransportFactory } from './types';
import { JsonSocketConn } from './ws';

interface ChatArgs {
  url: string;
  /** Several edges: pair i's users connect to urls[(2i) % n] and urls[(2i+1) % n], so a message crosses edges. */
  urls?: string[];
  /** HS256 secret of the system (CHAT_JWT_SECRET). */
  secret: string;
  /** Prefix of the user ids (unique per run). */
  userPrefix?: string;
  sendTimeoutMs?: number;
}

type Frame = { type: string; [k: string]: unknown };

let counter = 0;

async function sign(secret: string, userId: string, deviceId: string): Promise<string> {
  return new SignJWT({ did: deviceId }).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime('12h').sign(new TextEncoder().encode(secret));
}

class ChatConn extends JsonSocketConn<Frame, { resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> implements LoadConn {
  conversationId = '';
  private cb: (text: string, seq: number) => void = () => undefined;
  private receiptCb: (status: ReceiptStatus, upToSeq: number) => void = () => undefined;
  private errorCb: (message: string) => void = () => undefined;
  private typingCb: () => void = () => undefined;

  private constructor(
    readonly userId: string,
    ws: WebSocket,
    timeoutMs: number,
  ) {
    super(ws, timeoutMs);
  }

  static open(url: string, token: string, userId: string, timeoutMs: number): Promise<ChatConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url}?access_token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
      const conn = new ChatConn(userId, ws, timeoutMs);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('connect timed out'));
      }, 20_000);
      ws.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      conn.helloWaiter = () => {
        clearTimeout(timer);
        resolve(conn);
      };
    });
  }

  private helloWaiter?: () => void;

  protected onFrame(f: Frame): void {
    switch (f.type) {
      case 'hello':
        this.helloWaiter?.();
        this.helloWaiter = undefined;
        return;
      case 'message.new':
        if (f['senderId'] !== this.userId) this.cb((f['body'] as { text: string }).text, f['seq'] as number);
        return;
      case 'receipt':
        // The peer's receipts about our messages (not our own, echoed to other devices).
        if (f['userId'] !== this.userId && f['conversationId'] === this.conversationId) this.receiptCb(f['status'] as ReceiptStatus, f['upToSeq'] as number);
        return;
      case 'typing':
        if (f['userId'] !== this.userId && f['state'] === 'start') this.typingCb();
        return;
      case 'message.sent':
      case 'conversation.created':
      case 'error': {
        const id = (f['clientMsgId'] ?? f['ref']) as string | undefined;
        const p = id ? this.pending.get(id) : undefined;
        if (!p || !id) {
          if (f.type === 'error') this.errorCb(`${String(f['code'])}: ${String(f['message'])}`);
          return;
        }
        this.pending.delete(id);
        clearTimeout(p.timer);
        if (f.type === 'error') p.reject(new Error(`${String(f['code'])}: ${String(f['message'])}`));
        else p.resolve(f);
        return;
      }
      default:
    }
  }

  request(id: string, frame: Frame): Promise<Frame> {
    if (this.closed) return Promise.reject(new Error('closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${frame.type} timed out`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify(frame));
    });
  }

  async send(text: string): Promise<number> {
    const clientMsgId = `m${(++counter).toString(36)}`;
    const sent = await this.request(clientMsgId, { type: 'message.send', clientMsgId, conversationId: this.conversationId, body: { text } });
    return sent['seq'] as number;
  }

  onMessage(cb: (text: string, seq: number) => void): void {
    this.cb = cb;
  }

  sendReceipt(status: ReceiptStatus, upToSeq: number): void {
    if (this.closed) return;
    this.ws.send(JSON.stringify({ type: status === 'read' ? 'message.read' : 'message.delivered', conversationId: this.conversationId, upToSeq }));
  }

  onReceipt(cb: (status: ReceiptStatus, upToSeq: number) => void): void {
    this.receiptCb = cb;
  }

  onError(cb: (message: string) => void): void {
    this.errorCb = cb;
  }

  sendTyping(): void {
    if (!this.closed) this.ws.send(JSON.stringify({ type: 'typing', conversationId: this.conversationId, state: 'start' }));
  }

  onTyping(cb: () => void): void {
    this.typingCb = cb;
  }
}

export const createTransport: TransportFactory = async (raw) => {
  const args = raw as unknown as ChatArgs;
  const urls = args.urls?.length ? args.urls : [args.url];
  const prefix = args.userPrefix ?? `b${Date.now().toString(36)}`;
  const timeoutMs = args.sendTimeoutMs ?? 15_000;
  const conns: ChatConn[] = [];
  const transport: PairTransport = {
    async connectPair(i) {
      const ua = `${prefix}-${i}a`;
      const ub = `${prefix}-${i}b`;
      const [a, b] = await Promise.all([
        sign(args.secret, ua, 'd1').then((t) => ChatConn.open(urls[(2 * i) % urls.length]!, t, ua, timeoutMs)),
        sign(args.secret, ub, 'd1').then((t) => ChatConn.open(urls[(2 * i + 1) % urls.length]!, t, ub, timeoutMs)),
      ]);
      conns.push(a, b);
      const ref = `c${i}`;
      const created = await a.request(ref, { type: 'conversation.create', ref, kind: 'direct', members: [ub] });
      a.conversationId = b.conversationId = created['conversationId'] as string;
      return [a, b];
    },
    async close() {
      await Promise.all(conns.map((c) => c.close()));
    },
  };
  return transport;
};
