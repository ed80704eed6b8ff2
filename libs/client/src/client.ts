import type { ClientFrame, MessageBody, ServerFrame, ServerFrameOf } from '@chat/contracts';
import { Emitter } from './emitter';

/** The subset of the WebSocket API the client uses (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface ChatClientOptions {
  /** Edge WebSocket URL, e.g. ws://127.0.0.1:8080/v1/ws */
  url: string;
  token: string;
  /** Defaults to the global WebSocket (browsers, Node 22+); pass `(u) => new WebSocket(u)` from `ws` on Node 20. */
  createSocket?: WebSocketFactory;
  /** How long a request waits for its answer. */
  requestTimeoutMs?: number;
}

export type ChatEvents = {
  /** A new message, after de-duplication by (conversationId, seq). */
  message: [ServerFrameOf<'message.new'>];
  receipt: [ServerFrameOf<'receipt'>];
  conversation: [ServerFrameOf<'conversation.updated'>];
  /** An error frame that answers no pending request. */
  error: [ServerFrameOf<'error'>];
  /** Every frame as it arrives, before de-duplication. */
  frame: [ServerFrame];
  close: [{ code: number; reason: string }];
};

export class ChatError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}

type Waiter = { resolve: (f: ServerFrame) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

let counter = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(++counter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A typed client for the chat protocol. It de-duplicates messages by (conversationId, seq)
 * and keeps the sync cursor: live frames move it only once a sync has caught up, so a cursor
 * stored by the app never skips anything.
 */
export class ChatClient extends Emitter<ChatEvents> {
  private ws?: WebSocketLike;
  private readonly waiters = new Map<string, Waiter>();
  private readonly seen = new Map<string, Set<number>>();
  private syncing = false;
  /** Live messages that arrived during a sync: emitted after it, so order holds. */
  private heldBack: Array<ServerFrameOf<'message.new'>> = [];
  private _cursor: string | null = null;
  hello?: ServerFrameOf<'hello'>;

  constructor(private readonly opts: ChatClientOptions) {
    super();
  }

  /** The last cursor this client has processed everything up to. */
  get cursor(): string | null {
    return this._cursor;
  }
  set cursor(c: string | null) {
    this._cursor = c;
  }

  get connected(): boolean {
    return this.ws?.readyState === 1;
  }

  connect(): Promise<ServerFrameOf<'hello'>> {
    const factory =
      this.opts.createSocket ??
      ((u: string) => {
        const WS = (globalThis as { WebSocket?: new (u: string) => WebSocketLike }).WebSocket;
        if (!WS) throw new Error('no global WebSocket: pass createSocket');
        return new WS(u);
      });
    const sep = this.opts.url.includes('?') ? '&' : '?';
    const ws = factory(`${this.opts.url}${sep}access_token=${encodeURIComponent(this.opts.token)}`);
    this.ws = ws;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new ChatError('unavailable', 'connect timed out')), this.opts.requestTimeoutMs ?? 10_000);
      ws.onmessage = (ev) => {
        const frame = JSON.parse(String(ev.data)) as ServerFrame;
        if (frame.type === 'hello') {
          clearTimeout(timer);
          this.hello = frame;
          resolve(frame);
        }
        this.onFrame(frame);
      };
      ws.onerror = () => undefined;
      ws.onclose = (ev) => {
        clearTimeout(timer);
        reject(new ChatError('unavailable', `connection closed (${ev.code})`));
        for (const [id, w] of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new ChatError('unavailable', `connection closed (${ev.code})`));
          this.waiters.delete(id);
        }
        this.emit('close', { code: ev.code, reason: ev.reason });
      };
    });
  }

  close(code = 1000, reason = 'bye'): void {
    this.ws?.close(code, reason);
  }

  /** Sends a raw frame (tests use this for malformed input). */
  sendRaw(data: string): void {
    if (!this.ws) throw new ChatError('unavailable', 'not connected');
    this.ws.send(data);
  }

  async createConversation(input: { kind: 'direct' | 'group'; members: string[]; title?: string }) {
    const ref = newId('c');
    return (await this.request(ref, { type: 'conversation.create', ref, ...input })) as ServerFrameOf<'conversation.created'>;
  }

  async send(input: { conversationId: string; body: MessageBody; clientMsgId?: string; replyTo?: string }) {
    const clientMsgId = input.clientMsgId ?? newId('m');
    const sent = (await this.request(clientMsgId, { type: 'message.send', ...input, clientMsgId })) as ServerFrameOf<'message.sent'>;
    this.markSeen(sent.conversationId, sent.seq);
    return sent;
  }

  markDelivered(conversationId: string, upToSeq: number): void {
    this.write({ type: 'message.delivered', conversationId, upToSeq });
  }

  markRead(conversationId: string, upToSeq: number): void {
    this.write({ type: 'message.read', conversationId, upToSeq });
  }

  async ping(): Promise<void> {
    const ref = newId('p');
    await this.request(ref, { type: 'ping', ref });
  }

  /** One sync request from an explicit cursor; frames are not emitted. */
  async syncOnce(cursor: string | null, limit?: number) {
    const ref = newId('s');
    return (await this.request(ref, { type: 'sync', ref, cursor, ...(limit ? { limit } : {}) })) as
      | ServerFrameOf<'sync.batch'>
      | ServerFrameOf<'sync.reset'>;
  }

  /**
   * Catches up from the stored cursor: every message is emitted (de-duplicated) in order, and
   * the cursor advances batch by batch. Returns how many new messages were emitted, or
   * 'reset' when the server no longer has the cursor (reload from the HTTP API).
   */
  async syncAll(limit?: number): Promise<number | 'reset'> {
    this.syncing = true;
    let emitted = 0;
    let result: number | 'reset';
    try {
      for (;;) {
        const r = await this.syncOnce(this._cursor, limit);
        if (r.type === 'sync.reset') {
          result = 'reset';
          break;
        }
        for (const f of r.frames) if (this.accept(f)) emitted++;
        if (r.cursor) this._cursor = r.cursor;
        if (!r.hasMore) {
          result = emitted;
          break;
        }
      }
    } finally {
      this.syncing = false;
      emitted += this.releaseHeldBack();
    }
    return result === 'reset' ? result : emitted;
  }

  /**
   * Emits the live messages held back during a sync, per conversation in seq order. The cursor
   * stays where the sync left it: if any of them is newer, the next sync returns it again and
   * de-duplication drops it.
   */
  private releaseHeldBack(): number {
    const held = this.heldBack.splice(0);
    held.sort((a, b) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq));
    let n = 0;
    for (const f of held) if (this.accept(f)) n++;
    return n;
  }

  private onFrame(frame: ServerFrame): void {
    this.emit('frame', frame);
    switch (frame.type) {
      case 'message.new':
        if (this.syncing) this.heldBack.push(frame);
        else {
          this.accept(frame);
          this._cursor = frame.cursor;
        }
        return;
      case 'receipt':
        return this.emit('receipt', frame);
      case 'conversation.updated':
        return this.emit('conversation', frame);
      case 'error': {
        const id = frame.ref ?? frame.clientMsgId;
        const w = id ? this.waiters.get(id) : undefined;
        if (w && id) {
          this.waiters.delete(id);
          clearTimeout(w.timer);
          w.reject(new ChatError(frame.code, frame.message, frame.retryAfterMs));
        } else this.emit('error', frame);
        return;
      }
      default: {
        const id = 'ref' in frame ? frame.ref : 'clientMsgId' in frame ? frame.clientMsgId : undefined;
        const w = id ? this.waiters.get(id) : undefined;
        if (w && id) {
          this.waiters.delete(id);
          clearTimeout(w.timer);
          w.resolve(frame);
        }
      }
    }
  }

  private accept(f: ServerFrameOf<'message.new'>): boolean {
    if (!this.markSeen(f.conversationId, f.seq)) return false;
    this.emit('message', f);
    return true;
  }

  /** Records (conversationId, seq); false if it was already seen. */
  private markSeen(conversationId: string, seq: number): boolean {
    let s = this.seen.get(conversationId);
    if (!s) this.seen.set(conversationId, (s = new Set()));
    if (s.has(seq)) return false;
    s.add(seq);
    return true;
  }

  private write(frame: ClientFrame): void {
    if (!this.ws || this.ws.readyState !== 1) throw new ChatError('unavailable', 'not connected');
    this.ws.send(JSON.stringify(frame));
  }

  private request(id: string, frame: ClientFrame): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new ChatError('unavailable', `${frame.type} timed out`));
      }, this.opts.requestTimeoutMs ?? 15_000);
      this.waiters.set(id, { resolve, reject, timer });
      try {
        this.write(frame);
      } catch (e) {
        clearTimeout(timer);
        this.waiters.delete(id);
        reject(e as Error);
      }
    });
  }
}
