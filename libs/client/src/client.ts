import { ChatError, type ClientFrame, type MessageBody, type ServerFrame, type ServerFrameOf, type SyncedFrame, type ConversationKind, type Role } from '@chat/contracts';
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
  /** Edge WebSocket URL, e.g. ws://127.0.0.1:8080/v1/ws; with several, each reconnect tries the next. */
  url: string | string[];
  token: string;
  /** Defaults to the global WebSocket (browsers, Node 22+); pass `(u) => new WebSocket(u)` from `ws` on Node 20. */
  createSocket?: WebSocketFactory;
  /** How long a request waits for its answer. */
  requestTimeoutMs?: number;
  /**
   * Reconnect after an unexpected close, with jittered exponential backoff (1 s doubling to a
   * 30 s cap by default), then re-send the outbox and sync from the stored cursor.
   */
  reconnect?: boolean | { initialDelayMs?: number; maxDelayMs?: number };
  /**
   * Acknowledge received messages (`message.delivered`) automatically, coalesced per
   * conversation to the highest seq over `delayMs` (default 100 ms).
   */
  autoAck?: boolean | { delayMs?: number };
  /** How long an unacknowledged `message.send` stays in the outbox (default 5 min). */
  sendTimeoutMs?: number;
  /** A cursor stored by the app from an earlier session: sync resumes from it. */
  cursor?: string | null;
  /**
   * After live messages, sync this long after the last one (default 2 s; 0 = never on its
   * own): moves the stored cursor, which only sync batches do, and repairs any hole.
   */
  cursorSyncMs?: number;
}

export type ChatEvents = {
  /** A new message, after de-duplication by (conversationId, seq). */
  message: [ServerFrameOf<'message.new'>];
  /** An edit of a message (live or from sync). */
  edited: [ServerFrameOf<'message.edited'>];
  /** A deletion (for everyone, or for this user on another device). */
  deleted: [ServerFrameOf<'message.deleted'>];
  receipt: [ServerFrameOf<'receipt'>];
  /** Coalesced group receipts. */
  receipts: [ServerFrameOf<'receipt.batch'>];
  conversation: [ServerFrameOf<'conversation.updated'>];
  /** A conversation-list entry changed (new message, unread count). */
  activity: [ServerFrameOf<'conversation.activity'>];
  /** An error frame that answers no pending request. */
  error: [ServerFrameOf<'error'>];
  /** Connected again after a drop; the outbox was re-sent and a sync started. */
  reconnected: [{ attempt: number }];
  /** A reconnect was scheduled. */
  reconnecting: [{ attempt: number; delayMs: number }];
  /** The edge is shutting down; with `reconnect` the client moves on its own. */
  draining: [ServerFrameOf<'server.draining'>];
  /** The server no longer has the stored cursor: reload from the HTTP API. */
  reset: [{ reason: string }];
  /** Every frame as it arrives, before de-duplication. */
  frame: [ServerFrame];
  close: [{ code: number; reason: string }];
};


type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Waiter = { resolve: (f: ServerFrame) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

let counter = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(++counter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A typed client for the chat protocol. It de-duplicates messages by (conversationId, seq)
 * and keeps the sync cursor: only sync batches move it (a sync runs shortly after live
 * traffic), so a cursor stored by the app never skips anything.
 */
export class ChatClient extends Emitter<ChatEvents> {
  private ws?: WebSocketLike;
  private readonly waiters = new Map<string, Waiter>();
  private readonly seen = new Map<string, Set<number>>();
  /** Per conversation, the highest seq up to which every seq (from the first received) was seen: gap detection. */
  private readonly contiguous = new Map<string, number>();
  private syncing = false;
  /** Live messages that arrived during a sync: emitted after it, so order holds. */
  private heldBack: SyncedFrame[] = [];
  private _cursor: string | null = null;
  hello?: ServerFrameOf<'hello'>;
  private cursorSyncTimer?: ReturnType<typeof setTimeout>;
  /** Sends not yet answered, by clientMsgId: re-sent as they were after a reconnect. */
  private readonly outbox = new Map<string, ClientFrame>();
  /** Highest seq to acknowledge per conversation, flushed by a timer. */
  private readonly pendingAcks = new Map<string, number>();
  private ackTimer?: ReturnType<typeof setTimeout>;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private attempt = 0;
  private closedByUser = false;
  /** Gaps already repaired once, as `${conversationId}\u0000${seq}`. */
  private readonly gapTried = new Set<string>();
  /** The sync in progress, if any. */
  private syncRun: Promise<number | 'reset'> | undefined;
  /** A sync queued behind the running one (see syncAfterCurrent). */
  private nextSyncRun: Promise<number | 'reset'> | undefined;
  /** Which of the URLs the next connection uses. */
  private urlIndex = 0;
  /** Set by the first `hello`: any later one is a reconnect. */
  private wasOpen = false;
  /** Counters an app (or a test) can read: reconnects, duplicates dropped, gaps repaired, outbox frames written on reconnects. */
  readonly stats = { reconnects: 0, duplicatesDropped: 0, gapsRepaired: 0, resent: 0 };

  constructor(private readonly opts: ChatClientOptions) {
    super();
    this._cursor = opts.cursor ?? null;
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
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    const factory =
      this.opts.createSocket ??
      ((u: string) => {
        const WS = (globalThis as { WebSocket?: new (u: string) => WebSocketLike }).WebSocket;
        if (!WS) throw new Error('no global WebSocket: pass createSocket');
        return new WS(u);
      });
    const urls = typeof this.opts.url === 'string' ? [this.opts.url] : this.opts.url;
    const url = urls[this.urlIndex % urls.length]!;
    const sep = url.includes('?') ? '&' : '?';
    // Group receipts as one `receipt.batch` per window (emitted as `receipts`), not a `receipt` per member.
    const ws = factory(`${url}${sep}access_token=${encodeURIComponent(this.opts.token)}&features=receipt.batch`);
    this.ws = ws;
    let greeted = false;
    let deferred: ServerFrame[] | undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ChatError('unavailable', 'connect timed out'));
        ws.close(4000, 'connect timed out');
      }, this.opts.requestTimeoutMs ?? 10_000);
      ws.onmessage = (ev) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse(String(ev.data)) as ServerFrame;
        } catch {
          return; // not from a chat edge; nothing to do with it
        }
        if (deferred) {
          deferred.push(frame);
          return;
        }
        if (frame.type === 'hello') {
          clearTimeout(timer);
          greeted = true;
          this.hello = frame;
          // Frames that arrive with `hello` (in the same read) are handled on the next turn,
          // after the code awaiting connect() has run and attached its listeners.
          const queue: ServerFrame[] = (deferred = []);
          setTimeout(() => {
            deferred = undefined;
            for (const f of queue) if (this.ws === ws) this.onFrame(f);
          }, 0);
          this.onOpen();
          resolve(frame);
        } else if (!greeted && this.wasOpen && (frame.type === 'message.new' || frame.type === 'message.edited' || frame.type === 'message.deleted')) {
          // Before `hello` on a reconnect (edges send none, but be safe): the sync that follows
          // decides where these belong, so they must not move the cursor.
          this.heldBack.push(frame);
          return;
        }
        this.onFrame(frame);
      };
      ws.onerror = () => undefined;
      ws.onclose = (ev) => {
        clearTimeout(timer);
        reject(new ChatError('unavailable', `connection closed (${ev.code})`));
        if (this.ws !== ws) return; // an older socket
        for (const [id, w] of this.waiters) {
          if (this.reconnectOptions() && this.outbox.has(id)) continue; // re-sent after the reconnect
          clearTimeout(w.timer);
          w.reject(new ChatError('unavailable', `connection closed (${ev.code})`));
          this.waiters.delete(id);
        }
        this.emit('close', { code: ev.code, reason: ev.reason });
        if (!this.closedByUser && this.reconnectOptions()) this.scheduleReconnect();
      };
    });
  }

  private reconnectOptions(): { initialDelayMs: number; maxDelayMs: number } | null {
    const r = this.opts.reconnect;
    if (!r) return null;
    return { initialDelayMs: (r === true ? undefined : r.initialDelayMs) ?? 1_000, maxDelayMs: (r === true ? undefined : r.maxDelayMs) ?? 30_000 };
  }

  /** Equal jitter: half the exponential step, plus up to the other half at random. */
  private scheduleReconnect(): void {
    const r = this.reconnectOptions()!;
    const step = Math.min(r.maxDelayMs, r.initialDelayMs * 2 ** this.attempt);
    const delayMs = Math.round(step / 2 + Math.random() * (step / 2));
    this.attempt++;
    this.urlIndex++;
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.connect().catch(() => undefined); // a failed attempt closes, and its close schedules the next
    }, delayMs);
  }

  /** After every `hello`: re-send the outbox; after a reconnect, catch up with sync. */
  private onOpen(): void {
    const reconnected = this.wasOpen;
    const attempt = this.attempt;
    this.attempt = 0;
    this.wasOpen = true;
    for (const frame of this.outbox.values()) {
      if (reconnected) this.stats.resent++;
      this.ws?.send(JSON.stringify(frame));
    }
    this.flushAcks();
    if (!reconnected) return;
    this.stats.reconnects++;
    this.emit('reconnected', { attempt });
    void this.catchUp();
  }

  /** Debounced: a sync `cursorSyncMs` after the last live message. */
  private scheduleCursorSync(): void {
    const ms = this.opts.cursorSyncMs ?? 2_000;
    if (ms <= 0) return;
    clearTimeout(this.cursorSyncTimer);
    this.cursorSyncTimer = setTimeout(() => {
      if (this.connected) void this.catchUp();
    }, ms);
  }

  /**
   * A sync that starts after the one running now (if any) has finished: for when the server
   * says frames may have been missed just now, which a sync already under way may not cover.
   * Requests made while one is waiting share it.
   */
  private syncAfterCurrent(): Promise<number | 'reset'> {
    const running = this.syncRun;
    if (!running) return this.syncAll();
    this.nextSyncRun ??= running
      .catch(() => 0)
      .then(() => {
        this.nextSyncRun = undefined;
        return this.syncAll();
      });
    return this.nextSyncRun;
  }

  /** Syncs until caught up; a reset is reported with the `reset` event. */
  private async catchUp(fresh = false): Promise<void> {
    try {
      if ((await (fresh ? this.syncAfterCurrent() : this.syncAll())) === 'reset') this.emit('reset', { reason: 'cursor older than the retained history' });
    } catch {
      // The connection dropped again: the next reconnect syncs.
    }
  }

  /** Closes for good: no reconnect; unacknowledged sends are failed. */
  close(code = 1000, reason = 'bye'): void {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.cursorSyncTimer);
    clearTimeout(this.ackTimer);
    this.outbox.clear();
    this.ws?.close(code, reason);
  }

  /** Drops the connection as a network failure would (tests; "airplane mode"); reconnects if enabled. */
  drop(): void {
    this.ws?.close(4000, 'dropped by the client');
  }

  /** Sends a raw frame (tests use this for malformed input). */
  sendRaw(data: string): void {
    if (!this.ws) throw new ChatError('unavailable', 'not connected');
    this.ws.send(data);
  }

  async createConversation(input: { kind: ConversationKind; members: string[]; title?: string }) {
    const ref = newId('c');
    return (await this.request(ref, { type: 'conversation.create', ref, ...input })) as ServerFrameOf<'conversation.created'>;
  }

  /**
   * Sends a message. With `reconnect`, the frame stays in the outbox until the server answers
   * and is re-sent (same clientMsgId, so stored once) after every reconnect.
   */
  async send(input: { conversationId: string; body: MessageBody; clientMsgId?: string; replyTo?: string; mentions?: string[] }) {
    const clientMsgId = input.clientMsgId ?? newId('m');
    const frame: ClientFrame = { type: 'message.send', ...input, clientMsgId };
    if (!this.reconnectOptions()) {
      const sent = (await this.request(clientMsgId, frame)) as ServerFrameOf<'message.sent'>;
      this.markSeen(sent.conversationId, sent.seq, true);
      return sent;
    }
    this.outbox.set(clientMsgId, frame);
    try {
      const sent = (await this.request(clientMsgId, frame, this.opts.sendTimeoutMs ?? 300_000, { queueWhenOffline: true })) as ServerFrameOf<'message.sent'>;
      this.markSeen(sent.conversationId, sent.seq, true);
      return sent;
    } finally {
      this.outbox.delete(clientMsgId);
    }
  }

  /** Sends still waiting for `message.sent`. */
  get pendingSends(): number {
    return this.outbox.size;
  }

  async forward(input: { conversationId: string; from: { conversationId: string; messageId: string }; clientMsgId?: string }) {
    const clientMsgId = input.clientMsgId ?? newId('m');
    const sent = (await this.request(clientMsgId, { type: 'message.forward', ...input, clientMsgId })) as ServerFrameOf<'message.sent'>;
    this.markSeen(sent.conversationId, sent.seq, true);
    return sent;
  }

  async edit(conversationId: string, messageId: string, body: MessageBody) {
    const ref = newId('e');
    return (await this.request(ref, { type: 'message.edit', ref, conversationId, messageId, body })) as ServerFrameOf<'message.edited'>;
  }

  async delete(conversationId: string, messageId: string, scope: 'everyone' | 'me') {
    const ref = newId('x');
    return (await this.request(ref, { type: 'message.delete', ref, conversationId, messageId, scope })) as ServerFrameOf<'message.deleted'>;
  }

  /** Mutes (or unmutes) push notifications of a conversation on all of this user's devices; `until` (ISO) ends the mute by itself. */
  async mute(conversationId: string, muted: boolean, until?: string) {
    const ref = newId('u');
    return (await this.request(ref, { type: 'conversation.mute', ref, conversationId, muted, ...(until ? { until } : {}) })) as ServerFrameOf<'conversation.muted'>;
  }

  addMembers(conversationId: string, members: string[]) {
    return this.change({ type: 'conversation.members.add', conversationId, members });
  }

  removeMember(conversationId: string, userId: string) {
    return this.change({ type: 'conversation.members.remove', conversationId, userId });
  }

  leave(conversationId: string) {
    return this.change({ type: 'conversation.leave', conversationId });
  }

  setRole(conversationId: string, userId: string, role: Role) {
    return this.change({ type: 'conversation.role.set', conversationId, userId, role });
  }

  updateConversation(conversationId: string, changes: { title?: string; description?: string; avatarUrl?: string }) {
    return this.change({ type: 'conversation.update', conversationId, ...changes });
  }

  private async change(frame: DistributiveOmit<Extract<ClientFrame, { type: `conversation.${string}` }>, 'ref'>) {
    const ref = newId('g');
    return (await this.request(ref, { ...frame, ref } as ClientFrame)) as ServerFrameOf<'conversation.updated'>;
  }

  markDelivered(conversationId: string, upToSeq: number): void {
    this.write({ type: 'message.delivered', conversationId, upToSeq });
  }

  /** Queues a delivered watermark; one `message.delivered` per conversation per flush. */
  private queueAck(conversationId: string, seq: number): void {
    if ((this.pendingAcks.get(conversationId) ?? 0) >= seq) return;
    this.pendingAcks.set(conversationId, seq);
    if (this.ackTimer) return;
    const o = this.opts.autoAck;
    this.ackTimer = setTimeout(() => this.flushAcks(), (typeof o === 'object' ? o.delayMs : undefined) ?? 100);
  }

  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (!this.connected) return; // kept; flushed after the reconnect
    for (const [conversationId, upToSeq] of this.pendingAcks) this.write({ type: 'message.delivered', conversationId, upToSeq });
    this.pendingAcks.clear();
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
  syncAll(limit?: number): Promise<number | 'reset'> {
    // One sync at a time: a second one would end `syncing` while the first still runs, and
    // live frames would then move the cursor past what the first has not fetched yet.
    if (this.syncRun) return this.syncRun;
    const run = this.runSync(limit).finally(() => {
      if (this.syncRun === run) this.syncRun = undefined;
    });
    this.syncRun = run;
    return run;
  }

  private async runSync(limit?: number): Promise<number | 'reset'> {
    this.syncing = true;
    let emitted = 0;
    let result: number | 'reset' | undefined;
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
      if (result !== undefined) emitted += this.releaseHeldBack();
      // A sync that failed says nothing about gaps: what it held stays held until one succeeds
      // (the reconnect's, or a retry while still connected).
      else if (this.heldBack.length && this.connected) setTimeout(() => void this.catchUp(), 1_000);
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
    // Stable sort: an edit or delete stays after the message it changes.
    held.sort((a, b) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq));
    let n = 0;
    // A held frame after a gap (its predecessor's live frame was lost with a connection, and
    // the sync ran before it was stored) waits, with everything after it, for one more sync.
    const waiting = new Set<string>();
    for (const f of held) {
      if (waiting.has(f.conversationId) || (f.type === 'message.new' && this.isAfterGap(f))) {
        waiting.add(f.conversationId);
        this.heldBack.push(f);
      } else if (this.accept(f)) n++;
    }
    if (waiting.size) {
      this.stats.gapsRepaired++;
      setTimeout(() => void this.catchUp(), 0); // after this sync has ended
    }
    return n;
  }

  private onFrame(frame: ServerFrame): void {
    this.emit('frame', frame);
    switch (frame.type) {
      case 'message.new':
      case 'message.edited':
      case 'message.deleted':
        if (this.resolve(frame)) return; // the answer to this device's own edit/delete
        if (this.syncing) this.heldBack.push(frame);
        else if (frame.type === 'message.new' && this.isAfterGap(frame)) {
          // seq N+2 after N: hold it, and let a sync from the cursor bring N+1 first.
          this.heldBack.push(frame);
          this.stats.gapsRepaired++;
          void this.catchUp();
        } else {
          this.accept(frame);
          // The cursor only moves with sync batches: a live frame says nothing about frames
          // of other conversations that were not routed here (a route lost with Redis, an
          // edge that died). A sync shortly after live traffic moves it, and fills any hole.
          this.scheduleCursorSync();
        }
        return;
      case 'receipt':
        return this.emit('receipt', frame);
      case 'receipt.batch':
        return this.emit('receipts', frame);
      case 'conversation.activity':
        return this.emit('activity', frame);
      case 'sync.required':
        // Live frames may have missed this device: catch up from the stored cursor, with a sync
        // that starts after this frame arrived.
        void this.catchUp(true);
        return;
      case 'server.draining':
        this.emit('draining', frame);
        // Move now (to the next URL), while the edge still delivers; sync covers the gap.
        if (this.reconnectOptions()) this.drop();
        return;
      case 'conversation.updated':
        this.resolve(frame);
        return this.emit('conversation', frame);
      case 'error': {
        const id = frame.ref ?? frame.clientMsgId;
        const w = id ? this.waiters.get(id) : undefined;
        if (w && id) {
          this.waiters.delete(id);
          clearTimeout(w.timer);
          w.reject(new ChatError(frame.code, frame.message, frame.retryAfterMs !== undefined ? { retryAfterMs: frame.retryAfterMs } : undefined));
        } else this.emit('error', frame);
        return;
      }
      default:
        this.resolve(frame);
    }
  }

  /** Resolves the request this frame answers (by `ref` or `clientMsgId`), if any. */
  private resolve(frame: ServerFrame): boolean {
    const id = 'ref' in frame && frame.ref ? frame.ref : 'clientMsgId' in frame ? frame.clientMsgId : undefined;
    const w = id ? this.waiters.get(id) : undefined;
    if (!w || !id) return false;
    this.waiters.delete(id);
    clearTimeout(w.timer);
    w.resolve(frame);
    return true;
  }

  /** Emits a timeline frame; a message already seen (same conversation and seq) is dropped. */
  private accept(f: SyncedFrame): boolean {
    switch (f.type) {
      case 'message.new':
        if (!this.markSeen(f.conversationId, f.seq)) {
          this.stats.duplicatesDropped++;
          return false;
        }
        this.emit('message', f);
        if (this.opts.autoAck) this.queueAck(f.conversationId, f.seq);
        return true;
      case 'message.edited':
        this.emit('edited', f);
        return true;
      case 'message.deleted':
        this.markSeen(f.conversationId, f.seq); // a tombstone: no message.new will follow
        this.emit('deleted', f);
        return true;
    }
  }

  /**
   * A live message with a hole before it: a seq between the contiguous run this client has
   * seen and this one is missing. In a conversation it has seen nothing of yet, anything after
   * seq 1 may follow a hole too (its first messages were routed while this device was away, or
   * to a route Redis lost): one sync decides, and if it brings nothing before it (the user
   * joined later), the run starts there. Own sends count as seen for de-duplication but not
   * here: they say nothing about the messages before them.
   */
  private isAfterGap(f: ServerFrameOf<'message.new'>): boolean {
    const s = this.seen.get(f.conversationId);
    if (s?.has(f.seq)) return false;
    const contiguous = s && s.size > 0 ? this.contiguous.get(f.conversationId) : 0;
    if (contiguous === undefined || f.seq <= contiguous + 1) return false;
    // Repaired once: a gap a sync does not fill is real (e.g. the user was not a member
    // then), so the run goes on from here.
    const key = `${f.conversationId}\u0000${f.seq}`;
    if (this.gapTried.has(key)) {
      this.contiguous.set(f.conversationId, f.seq - 1);
      return false;
    }
    if (this.gapTried.size > 10_000) this.gapTried.clear();
    this.gapTried.add(key);
    return true;
  }

  /** Records (conversationId, seq); false if it was already seen. */
  private markSeen(conversationId: string, seq: number, own = false): boolean {
    let s = this.seen.get(conversationId);
    if (!s) this.seen.set(conversationId, (s = new Set()));
    if (s.has(seq)) return false;
    s.add(seq);
    // The first message received starts the run; an own send only extends one (or starts it
    // at seq 1, which has no predecessors).
    let run = this.contiguous.get(conversationId);
    if (run === undefined) {
      if (own && seq !== 1) return true;
      run = seq;
    }
    while (s.has(run + 1)) run++;
    this.contiguous.set(conversationId, run);
    return true;
  }

  private write(frame: ClientFrame): void {
    if (!this.ws || this.ws.readyState !== 1) throw new ChatError('unavailable', 'not connected');
    this.ws.send(JSON.stringify(frame));
  }

  private request(id: string, frame: ClientFrame, timeoutMs = this.opts.requestTimeoutMs ?? 15_000, o: { queueWhenOffline?: boolean } = {}): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new ChatError('unavailable', `${frame.type} timed out`));
      }, timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
      if (o.queueWhenOffline && !this.connected) return; // sent from the outbox on the next hello
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
