/**
 * Load transport for the Socket.IO peer (bench/peer/server.ts).
 *
 * `args.url`: one or more comma-separated server URLs (http://127.0.0.1:p1,http://127.0.0.1:p2).
 * Pair i's user a connects to url[0], user b to url[1 % n]: with two servers every message crosses
 * processes through the Redis adapter (a→b is published by server 1 and delivered by server 2, and
 * vice versa), so all of the traffic takes the adapter path — the case the peer exists to measure.
 * Optional `args.sameServerEvery` (k > 0): every k-th pair puts both users on the same server.
 *
 * Clients use the WebSocket transport only (no long-polling upgrade dance) and one connection per
 * user (forceNew). Identification is `auth: { userId }` in the handshake (the peer trusts it).
 * `send` resolves on the server's ack, which comes after the Postgres INSERT, with the row id:
 * the peer's message position (a bigserial, increasing; the watermark a receipt carries).
 * Receipts: `delivered` / `read` `{conversationId, upToSeq, to}` out (no ack), `receipt`
 * `{conversationId, userId, status, upToSeq, at}` in.
 */
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import type { LoadConn, PairTransport, ReceiptStatus, TransportFactory } from './types';

interface Delivered {
  id: string;
  from: string;
  conversationId: string;
  clientMsgId: string;
  text: string;
  sentAt: string;
}

const ACK_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 20_000;

function connect(url: string, userId: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      auth: { userId },
      transports: ['websocket'],
      forceNew: true,
      reconnection: true,
      timeout: CONNECT_TIMEOUT_MS,
    });
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new Error(`socket.io connect to ${url} as ${userId} timed out`));
    }, CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      // the server rejected the handshake (middleware error) — no point retrying
      if (!socket.active) {
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

interface ReceiptEvent {
  conversationId: string;
  userId: string;
  status: ReceiptStatus;
  upToSeq: number | string;
  at: string;
}

class SocketIoConn implements LoadConn {
  private seq = 0;
  private readonly listeners: ((text: string, seq: number) => void)[] = [];
  private receiptCb: (status: ReceiptStatus, upToSeq: number) => void = () => undefined;

  constructor(
    private readonly socket: Socket,
    private readonly userId: string,
    private readonly peerId: string,
    private readonly conversationId: string,
  ) {
    socket.on('message', (m: Delivered) => {
      for (const cb of this.listeners) cb(m.text, Number(m.id));
    });
    socket.on('receipt', (r: ReceiptEvent) => {
      if (r.userId === this.peerId && r.conversationId === this.conversationId) this.receiptCb(r.status, Number(r.upToSeq));
    });
  }

  async send(text: string): Promise<number> {
    const clientMsgId = `${this.userId}:${++this.seq}`;
    const reply = (await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('send', {
      to: this.peerId,
      conversationId: this.conversationId,
      clientMsgId,
      text,
    })) as { ok: boolean; id?: string; error?: string };
    if (!reply?.ok) throw new Error(`send rejected: ${reply?.error ?? 'no reply'}`);
    return Number(reply.id);
  }

  onMessage(cb: (text: string, seq: number) => void): void {
    this.listeners.push(cb);
  }

  sendReceipt(status: ReceiptStatus, upToSeq: number): void {
    this.socket.emit(status, { conversationId: this.conversationId, upToSeq, to: this.peerId });
  }

  onReceipt(cb: (status: ReceiptStatus, upToSeq: number) => void): void {
    this.receiptCb = cb;
  }

  async close(): Promise<void> {
    this.socket.disconnect();
  }
}

export const createTransport: TransportFactory = async (args) => {
  const urls = String(args.url)
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0) throw new Error('socketio transport: args.url is empty');
  const sameServerEvery = Number(args.sameServerEvery ?? 0);
  // unique per transport instance so reruns against the same servers never share rooms or clientMsgIds
  const prefix = typeof args.userPrefix === 'string' && args.userPrefix ? `${args.userPrefix}-` : '';
  const run = prefix + randomBytes(4).toString('hex');
  const conns = new Set<SocketIoConn>();

  const transport: PairTransport = {
    async connectPair(i: number): Promise<[LoadConn, LoadConn]> {
      const aId = `u-${run}-${i}-a`;
      const bId = `u-${run}-${i}-b`;
      const conversationId = `c-${run}-${i}`;
      const same = sameServerEvery > 0 && i % sameServerEvery === 0;
      const aUrl = urls[0]!;
      const bUrl = same ? aUrl : urls[1 % urls.length]!;
      const [sa, sb] = await Promise.all([connect(aUrl, aId), connect(bUrl, bId)]);
      const a = new SocketIoConn(sa, aId, bId, conversationId);
      const b = new SocketIoConn(sb, bId, aId, conversationId);
      conns.add(a);
      conns.add(b);
      return [a, b];
    },
    async close(): Promise<void> {
      await Promise.all([...conns].map((c) => c.close()));
      conns.clear();
    },
  };
  return transport;
};

export default createTransport;
