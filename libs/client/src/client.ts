import { ChatError, ClientFrame, type SendBody, type TextBody, type ServerFrame, type ServerFrameOf, type ConversationKind, type Role } from '@chat/contracts';
import { DeliveredAcks } from './acks';
import { Connection, type ReconnectOption, type SocketState, type WebSocketFactory } from './connection';
import { Emitter } from './emitter';
import { ChatHttp, type TokenSource } from './httpApi';
import { Outbox, type OutboxEntry } from './outbox';
import { newId, Requests, type AnsweredBy, type AnswerOf, type RequestFrame } from './requests';
import { PersistedValue, type ChatStorage } from './storage';
import { isSyncedFrame, Timeline } from './timeline';

export type { WebSocketLike, WebSocketFactory, ReconnectOption } from './connection';
export type { AnswerOf } from './requests';
export type { OutboxEntry } from './outbox';

/**
 * Where the client stands: `connecting` (also while waiting to reconnect), `syncing` (connected
 * and catching up: after a reconnect, after `sync.required`, or while syncAll() runs),
 * `connected`, `disconnected` (not connected and not trying: before connect(), after close(),
 * without `reconnect` after a drop, or after a refused token).
 */
export type ConnectionState = 'disconnected' | 'connecting' | 'syncing' | 'connected';

/** Where the browser's `online` and `offline` events come from (the global object in browsers). */
export interface NetworkEvents {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
}

export interface ChatClientOptions {
  /** Edge WebSocket URL, e.g. ws://127.0.0.1:8080/v1/ws; with several, each reconnect tries the next. */
  url: string | string[];
  /** Called before every connection attempt (and every HTTP call) for the current token. */
  getToken?: () => string | Promise<string>;
  /** A fixed token: the same as `getToken: () => token` (it cannot be renewed). */
  token?: string;
  /** Defaults to the global WebSocket (browsers, Node 22+); pass `(u) => new WebSocket(u)` from `ws` on Node 20. */
  createSocket?: WebSocketFactory;
  /** How long a request waits for its answer. */
  requestTimeoutMs?: number;
  /**
   * Reconnect after an unexpected close, with jittered exponential backoff (1 s doubling to a
   * 30 s cap by default), then re-send the outbox and sync from the stored cursor. Also turns
   * on the outbox for every mutating call, and reconnects at once on the browser's `online`.
   */
  reconnect?: ReconnectOption;
  /**
   * Acknowledge received messages (`message.delivered`) automatically, coalesced per
   * conversation to the highest seq over `delayMs` (default 100 ms).
   */
  autoAck?: boolean | { delayMs?: number };
  /** How long a call stays in the outbox unanswered before it fails (default 5 min; counted from when it was first queued, across restarts). */
  sendTimeoutMs?: number;
  /** A cursor stored by the app from an earlier session: sync resumes from it (overrides the one in `storage`). */
  cursor?: string | null;
  /**
   * After live messages, sync this long after the last one (default 2 s; 0 = never on its
   * own): moves the stored cursor, which only sync batches do, and repairs any hole.
   */
  cursorSyncMs?: number;
  /** Keeps the outbox and the cursor across restarts (indexedDbStorage, fileStorage from @chat/client/node). One per account. */
  storage?: ChatStorage;
  /** The edge's HTTP base URL for `http`; default: the first `url` with http(s) for ws(s) and no path. */
  httpUrl?: string;
  /** Source of `online`/`offline` events; default the global object where it has them (browsers); false: none. */
  network?: NetworkEvents | false;
  /** Seqs remembered per conversation to drop duplicates (default 2048); older ones count as seen. */
  seenWindow?: number;
}

/** A call that left the outbox: answered, or failed for good. */
export interface OutboxSettled {
  id: string;
  frame: ClientFrame;
  answer?: ServerFrame;
  error?: Error;
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
  /** The connection state changed (see `state`). */
  state: [ConnectionState];
  /**
   * The edge refused the token and the client stopped: a renewed token was refused too, or the
   * token is fixed. Get a new token (log in again) and call connect().
   */
  unauthorized: [ChatError];
  /** Connected again after a drop; the outbox was re-sent and a sync started. */
  reconnected: [{ attempt: number }];
  /** A reconnect was scheduled. */
  reconnecting: [{ attempt: number; delayMs: number }];
  /** A call was refused with `rate_limited`; the outbox writes it again after `retryAfterMs`. */
  retrying: [{ id: string; type: ClientFrame['type']; retryAfterMs: number }];
  /** A call left the outbox (also those restored from `storage`, which nobody awaits). */
  settled: [OutboxSettled];
  /** The storage failed to read or write; the client goes on in memory. */
  storageError: [Error];
  /** The edge is shutting down; with `reconnect` the client moves on its own. */
  draining: [ServerFrameOf<'server.draining'>];
  /** The server no longer has the stored cursor: reload from the HTTP API. */
  reset: [{ reason: string }];
  /** A watched user's presence changed (after `watchPresence`). */
  presence: [ServerFrameOf<'presence'>];
  /** Another member started or stopped typing; treat a `start` as ended after 5 s without another. */
  typing: [ServerFrameOf<'typing'>];
  /** Every frame as it arrives, before de-duplication. */
  frame: [ServerFrame];
  close: [{ code: number; reason: string }];
};

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const KEY_OUTBOX = 'outbox';
const KEY_CURSOR = 'cursor';
/** Frame types the outbox keeps (mutating calls). */
const OUTBOX_TYPES = new Set<ClientFrame['type']>(['message.send', 'message.forward', 'message.edit', 'message.delete', 'message.read']);
/** When a `rate_limited` answer names no delay. */
const DEFAULT_RETRY_MS = 1_000;

const idOf = (frame: RequestFrame): string => ('clientMsgId' in frame ? frame.clientMsgId : frame.ref);

/** The HTTP base URL of a WebSocket URL: same host, http(s), no path. */
export function httpUrlOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
}

function checkOptions(o: ChatClientOptions): void {
  const urls = typeof o.url === 'string' ? [o.url] : o.url;
  if (!Array.isArray(urls) || urls.length === 0) throw new TypeError('url must be a WebSocket URL or a non-empty list of them');
  for (const u of urls) if (typeof u !== 'string' || !/^wss?:\/\/[^/]/.test(u)) throw new TypeError(`url must start with ws:// or wss://, not ${JSON.stringify(u)}`);
  if (o.getToken !== undefined && typeof o.getToken !== 'function') throw new TypeError('getToken must be a function');
  if (o.getToken === undefined && typeof o.token !== 'string') throw new TypeError('pass getToken (a function returning the current token) or token (a string)');
  if (o.getToken !== undefined && o.token !== undefined) throw new TypeError('pass getToken or token, not both');
  for (const k of ['requestTimeoutMs', 'sendTimeoutMs', 'cursorSyncMs', 'seenWindow'] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new TypeError(`${k} must be a number ≥ 0, not ${String(v)}`);
  }
}

/**
 * A typed client for the chat protocol. It de-duplicates messages by (conversationId, seq)
 * and keeps the sync cursor: only sync batches move it (a sync runs shortly after live
 * traffic), so a cursor stored by the app never skips anything.
 */
export class ChatClient extends Emitter<ChatEvents> {
  hello?: ServerFrameOf<'hello'>;
  /** Counters an app (or a test) can read: reconnects, duplicates dropped, gaps repaired, outbox frames written on reconnects. */
  readonly stats = { reconnects: 0, duplicatesDropped: 0, gapsRepaired: 0, resent: 0 };
  /** The HTTP API, with this client's token. */
  readonly http: ChatHttp;
  private readonly connection: Connection;
  private readonly requests: Requests;
  /** Mutating calls not answered yet: re-sent as they were after a reconnect. */
  private readonly outbox: Outbox;
  private readonly timeline: Timeline;
  private readonly acks: DeliveredAcks;
  private readonly tokenSource: TokenSource;
  private readonly persisted?: { outbox: PersistedValue; cursor: PersistedValue };
  /** Loading the outbox and cursor from `storage`; once per connect() after a close(). */
  private restoring?: Promise<void>;
  private catchingUp = false;
  /** The app set the cursor: the stored one is not loaded over it. */
  private cursorSet = false;
  private current: ConnectionState = 'disconnected';
  private readonly network?: NetworkEvents;
  private listening = false;

  constructor(private readonly opts: ChatClientOptions) {
    super();
    checkOptions(opts);
    const getToken = opts.getToken ?? (() => opts.token!);
    this.tokenSource = opts.getToken ?? opts.token!;
    this.connection = new Connection(
      {
        url: opts.url,
        getToken,
        refreshable: opts.getToken !== undefined,
        createSocket: opts.createSocket,
        connectTimeoutMs: opts.requestTimeoutMs ?? 10_000,
        reconnect: opts.reconnect,
      },
      {
        open: (hello, o) => this.onOpen(hello, o),
        frame: (frame) => this.onFrame(frame),
        early: (frame) => {
          if (!isSyncedFrame(frame)) return false;
          this.timeline.hold(frame); // the sync that follows decides where it belongs
          return true;
        },
        close: (ev) => this.onClose(ev),
        reconnecting: (ev) => this.emit('reconnecting', ev),
        state: () => this.updateState(),
        unauthorized: (e) => this.emit('unauthorized', e),
      },
    );
    const connected = () => this.connection.connected;
    const write = (frame: ClientFrame) => this.connection.write(frame);
    if (opts.storage) {
      const failed = (e: unknown) => this.emit('storageError', e instanceof Error ? e : new Error(String(e)));
      this.persisted = { outbox: new PersistedValue(opts.storage, KEY_OUTBOX, failed), cursor: new PersistedValue(opts.storage, KEY_CURSOR, failed) };
    }
    this.outbox = new Outbox({
      write: (frame) => {
        if (!connected()) return false;
        write(frame);
        return true;
      },
      now: () => Date.now(),
      changed: this.persisted ? (entries) => this.persisted!.outbox.set(entries.length ? JSON.stringify({ v: 1, entries }) : null) : undefined,
    });
    this.requests = new Requests({ write, connected, timeoutMs: opts.requestTimeoutMs ?? 15_000 });
    const autoAck = opts.autoAck;
    this.acks = new DeliveredAcks({ write, connected, delayMs: (typeof autoAck === 'object' ? autoAck.delayMs : undefined) ?? 100 });
    this.timeline = new Timeline(
      {
        sync: (cursor, limit) => this.syncOnce(cursor, limit),
        connected,
        emit: this.emit.bind(this),
        accepted: autoAck ? (f) => this.acks.queue(f.conversationId, f.seq) : undefined,
        stats: this.stats,
        cursorSyncMs: opts.cursorSyncMs ?? 2_000,
        seenWindow: opts.seenWindow,
        cursorMoved: this.persisted ? (c) => this.persisted!.cursor.set(JSON.stringify(c)) : undefined,
        syncing: (active) => {
          this.catchingUp = active;
          this.updateState();
        },
      },
      opts.cursor ?? null,
    );
    this.http = new ChatHttp({ baseUrl: opts.httpUrl ?? httpUrlOf(typeof opts.url === 'string' ? opts.url : opts.url[0]!), token: this.tokenSource });
    if (opts.network !== false && opts.reconnect) {
      const g = globalThis as Partial<NetworkEvents>;
      this.network = opts.network ?? (typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as NetworkEvents) : undefined);
    }
  }

  /** The last cursor this client has processed everything up to. */
  get cursor(): string | null {
    return this.timeline.cursor;
  }
  set cursor(c: string | null) {
    this.cursorSet = true;
    this.timeline.cursor = c;
    this.persisted?.cursor.set(c === null ? null : JSON.stringify(c));
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  /** Where the client stands; every change is also emitted as `state`. */
  get state(): ConnectionState {
    return this.current;
  }

  /**
   * Connects (asking getToken for a token first). Resolves with `hello`; rejects when this
   * attempt fails (with `reconnect`, the client keeps trying). With `storage`, the outbox and
   * the cursor are loaded first.
   */
  connect(): Promise<ServerFrameOf<'hello'>> {
    this.listen(true);
    if (!this.persisted) return this.connection.connect();
    this.restoring ??= this.restore();
    return this.restoring.then(() => this.connection.connect());
  }

  /** Resolves once everything the client has to persist so far is written to `storage`. */
  async flush(): Promise<void> {
    await Promise.all([this.persisted?.outbox.flushed(), this.persisted?.cursor.flushed()]);
  }

  /** Loads the cursor (unless the options name one) and the outbox; the loaded calls are sent on the next `hello`. */
  private async restore(): Promise<void> {
    const storage = this.opts.storage!;
    const [cursor, outbox] = await Promise.all([
      storage.get(KEY_CURSOR).catch((e: unknown) => void this.emit('storageError', e as Error)),
      storage.get(KEY_OUTBOX).catch((e: unknown) => void this.emit('storageError', e as Error)),
    ]);
    if (this.opts.cursor === undefined && !this.cursorSet && typeof cursor === 'string') {
      try {
        const c: unknown = JSON.parse(cursor);
        if (typeof c === 'string' || c === null) this.timeline.cursor = c;
      } catch {
        this.emit('storageError', new Error('stored cursor is not JSON; syncing from the cursor in memory'));
      }
    }
    if (typeof outbox === 'string') for (const entry of this.parseOutbox(outbox)) this.restoreEntry(entry);
    // Calls made before the load are merged in: only now is the outbox written back.
    this.outbox.reattach();
  }

  /** The entries of a stored outbox that are frames of the contract; anything else is reported and dropped. */
  private parseOutbox(text: string): OutboxEntry[] {
    let entries: unknown;
    try {
      entries = (JSON.parse(text) as { entries?: unknown }).entries;
    } catch {
      entries = undefined;
    }
    if (!Array.isArray(entries)) {
      this.emit('storageError', new Error('stored outbox is not readable; it is dropped'));
      return [];
    }
    const ok: OutboxEntry[] = [];
    for (const e of entries as Array<Partial<OutboxEntry>>) {
      const frame = ClientFrame.safeParse(e?.frame);
      if (frame.success && OUTBOX_TYPES.has(frame.data.type) && typeof e.id === 'string' && typeof e.queuedAt === 'number') ok.push({ id: e.id, frame: frame.data, queuedAt: e.queuedAt });
      else this.emit('storageError', new Error(`stored outbox entry ${JSON.stringify(e?.id)} is not a frame of the contract; it is dropped`));
    }
    return ok;
  }

  private restoreEntry(e: OutboxEntry): void {
    if (this.outbox.has(e.id)) return;
    if (e.frame.type === 'message.read') return this.outbox.post(e.id, e.frame, e.queuedAt);
    void this.queued(e.frame as RequestFrame, e.queuedAt).catch(() => undefined); // reported as `settled`
  }

  /** The browser's online/offline events: drop a socket the network took, and reconnect as soon as it is back. */
  private readonly onOnline = () => this.connection.reconnectNow();
  private readonly onOffline = () => {
    if (this.connection.state !== 'disconnected') this.connection.drop();
  };
  private listen(on: boolean): void {
    if (!this.network || on === this.listening) return;
    this.listening = on;
    const n = this.network;
    if (on) {
      n.addEventListener('online', this.onOnline);
      n.addEventListener('offline', this.onOffline);
    } else {
      n.removeEventListener('online', this.onOnline);
      n.removeEventListener('offline', this.onOffline);
    }
  }

  private updateState(): void {
    const socket: SocketState = this.connection.state;
    const s: ConnectionState = socket === 'connected' && this.catchingUp ? 'syncing' : socket;
    if (s === this.current) return;
    this.current = s;
    this.emit('state', s);
  }

  /** After every `hello`: re-send the outbox; after a reconnect, catch up with sync. */
  private onOpen(hello: ServerFrameOf<'hello'>, { reconnected, attempt }: { reconnected: boolean; attempt: number }): void {
    this.hello = hello;
    const resent = this.outbox.resend();
    if (reconnected) this.stats.resent += resent;
    this.acks.flush();
    if (!reconnected) return;
    this.stats.reconnects++;
    this.emit('reconnected', { attempt });
    void this.timeline.catchUp();
  }

  private onClose(ev: { code: number; reason: string }): void {
    this.requests.failAll(
      () => new ChatError('unavailable', `connection closed (${ev.code})`),
      (id) => this.connection.reconnects && this.outbox.has(id), // re-sent after the reconnect
    );
    this.emit('close', ev);
  }

  /**
   * Closes for good: no reconnect; the calls still in the outbox fail. With `storage` they stay
   * stored, and the next connect() (of this client or a new one on that storage) sends them.
   */
  close(code = 1000, reason = 'bye'): void {
    this.listen(false);
    this.timeline.stop();
    this.acks.stop();
    this.outbox.clear(this.persisted !== undefined);
    this.restoring = undefined;
    this.connection.close(code, reason);
    // The socket may have been closed already (waiting to reconnect): fail what still waits.
    this.requests.failAll(() => new ChatError('unavailable', 'client closed'));
  }

  /** Drops the connection as a network failure would (tests; "airplane mode"); reconnects if enabled. */
  drop(): void {
    this.connection.drop();
  }

  /** Sends a raw frame (tests use this for malformed input). */
  sendRaw(data: string): void {
    this.connection.send(data);
  }

  createConversation(input: { kind: ConversationKind; members: string[]; title?: string }) {
    return this.requests.request({ type: 'conversation.create', ref: newId('c'), ...input });
  }

  /**
   * Sends a message. With `reconnect`, the frame stays in the outbox until the server answers
   * and is re-sent (same clientMsgId, so stored once) after every reconnect, and after
   * `retryAfterMs` when the server answered `rate_limited`.
   */
  send(input: { conversationId: string; body: SendBody; clientMsgId?: string; replyTo?: string; mentions?: string[] }) {
    return this.mutate({ type: 'message.send' as const, ...input, clientMsgId: input.clientMsgId ?? newId('m') });
  }

  /** Sends still waiting for `message.sent`. */
  get pendingSends(): number {
    return this.outbox.entries().filter((e) => e.frame.type === 'message.send' || e.frame.type === 'message.forward').length;
  }

  /** Every call in the outbox, oldest first (e.g. to show unsent messages after a restart). */
  get pending(): OutboxEntry[] {
    return this.outbox.entries();
  }

  forward(input: { conversationId: string; from: { conversationId: string; messageId: string }; clientMsgId?: string }) {
    return this.mutate({ type: 'message.forward' as const, ...input, clientMsgId: input.clientMsgId ?? newId('m') });
  }

  /** Replaces a message's text (a media message's caption; its media stays). Through the outbox with `reconnect`. */
  edit(conversationId: string, messageId: string, body: TextBody) {
    return this.mutate({ type: 'message.edit' as const, ref: newId('e'), conversationId, messageId, body });
  }

  /** Through the outbox with `reconnect`. */
  delete(conversationId: string, messageId: string, scope: 'everyone' | 'me') {
    return this.mutate({ type: 'message.delete' as const, ref: newId('x'), conversationId, messageId, scope });
  }

  /** A call of the outbox with `reconnect`, else a plain request. */
  private mutate<F extends RequestFrame>(frame: F): Promise<AnswerOf<F['type']>> {
    if (!this.connection.reconnects) return this.requests.request(frame);
    return this.queued(frame);
  }

  /** Tracks a frame in the outbox until its answer, or until `sendTimeoutMs` after `queuedAt`. */
  private queued<F extends RequestFrame>(frame: F, queuedAt = Date.now()): Promise<AnswerOf<F['type']>> {
    const id = idOf(frame);
    const timeoutMs = Math.max(0, queuedAt + (this.opts.sendTimeoutMs ?? 300_000) - Date.now());
    const p = this.outbox.track(id, frame, () => this.requests.request(frame, { timeoutMs, queueWhenOffline: true }), queuedAt);
    p.then(
      (answer) => this.emit('settled', { id, frame, answer }),
      (error: Error) => this.emit('settled', { id, frame, error }),
    );
    return p;
  }

  /** Mutes (or unmutes) push notifications of a conversation on all of this user's devices; `until` (ISO) ends the mute by itself. */
  mute(conversationId: string, muted: boolean, until?: string) {
    return this.requests.request({ type: 'conversation.mute', ref: newId('u'), conversationId, muted, ...(until ? { until } : {}) });
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

  private change(frame: DistributiveOmit<RequestFrame & { type: AnsweredBy<'conversation.updated'> }, 'ref'>) {
    return this.requests.request({ ...frame, ref: newId('g') });
  }

  /** With `reconnect`, queued while offline and written on the next `hello`; without, written now (throws offline). */
  markDelivered(conversationId: string, upToSeq: number): void {
    if (!this.connection.reconnects) return this.connection.write({ type: 'message.delivered', conversationId, upToSeq });
    this.acks.queue(conversationId, upToSeq);
    this.acks.flush();
  }

  /**
   * With `reconnect`, through the outbox: written now when connected, else kept (the highest
   * seq per conversation, persisted with `storage`) and written on the next `hello`. Without,
   * written now (throws offline). A refusal arrives as an `error` event.
   */
  markRead(conversationId: string, upToSeq: number): void {
    const frame = { type: 'message.read' as const, conversationId, upToSeq };
    if (!this.connection.reconnects) return this.connection.write(frame);
    const id = `read:${conversationId}`;
    const waiting = this.outbox.get(id);
    if (waiting?.type === 'message.read' && waiting.upToSeq >= upToSeq) return;
    this.outbox.post(id, frame);
  }

  /**
   * Watches these users' presence (at most 500; replaces the previous set; [] stops): resolves
   * with the snapshot of those this user may see, then emits `presence` on every change. Not
   * renewed by itself after a reconnect: call it again on `reconnected`.
   */
  async watchPresence(userIds: string[]): Promise<ServerFrameOf<'presence.snapshot'>['users']> {
    return (await this.requests.request({ type: 'presence.subscribe', ref: newId('w'), userIds })).users;
  }

  /** Tells the conversation's other members this user is typing (send `start` again every 4 s while typing: the server forwards one per 3 s, a receiver drops it after 5 s) or stopped. Best effort. */
  typing(conversationId: string, state: 'start' | 'stop'): void {
    this.connection.write({ type: 'typing', conversationId, state });
  }

  async ping(): Promise<void> {
    await this.requests.request({ type: 'ping', ref: newId('p') });
  }

  /** One sync request from an explicit cursor; frames are not emitted. */
  syncOnce(cursor: string | null, limit?: number) {
    return this.requests.request({ type: 'sync', ref: newId('s'), cursor, ...(limit ? { limit } : {}) });
  }

  /**
   * Catches up from the stored cursor: every message is emitted (de-duplicated) in order, and
   * the cursor advances batch by batch. Returns how many new messages were emitted, or
   * 'reset' when the server no longer has the cursor (reload from the HTTP API).
   */
  syncAll(limit?: number): Promise<number | 'reset'> {
    return this.timeline.syncAll(limit);
  }

  private onFrame(frame: ServerFrame): void {
    this.emit('frame', frame);
    switch (frame.type) {
      case 'message.new':
      case 'message.edited':
      case 'message.deleted':
        // An edit or delete can be the answer to this device's own request.
        if (!this.requests.resolve(frame)) this.timeline.live(frame);
        return;
      case 'message.sent':
        // Seen, so its `message.new` from a sync is dropped (also for a send restored from storage).
        this.timeline.markOwn(frame.conversationId, frame.seq);
        this.requests.resolve(frame);
        return;
      case 'receipt':
        return this.emit('receipt', frame);
      case 'receipt.batch':
        return this.emit('receipts', frame);
      case 'conversation.activity':
        return this.emit('activity', frame);
      case 'presence':
        return this.emit('presence', frame);
      case 'presence.batch':
        for (const u of frame.users) this.emit('presence', { type: 'presence', ...u });
        return;
      case 'typing':
        return this.emit('typing', frame);
      case 'sync.required':
        // Live frames may have missed this device: catch up from the stored cursor, with a sync
        // that starts after this frame arrived.
        void this.timeline.catchUp(true);
        return;
      case 'server.draining':
        this.emit('draining', frame);
        // Move now (to the next URL), while the edge still delivers; sync covers the gap.
        if (this.connection.reconnects) this.connection.drop();
        return;
      case 'conversation.updated':
        this.requests.resolve(frame);
        return this.emit('conversation', frame);
      case 'error': {
        const id = frame.ref ?? frame.clientMsgId;
        if (frame.code === 'rate_limited' && id !== undefined) {
          const retryAfterMs = frame.retryAfterMs ?? DEFAULT_RETRY_MS;
          const entry = this.outbox.get(id);
          if (entry && this.outbox.retryAfter(id, retryAfterMs)) return this.emit('retrying', { id, type: entry.type, retryAfterMs });
        }
        if (!this.requests.reject(frame)) this.emit('error', frame);
        return;
      }
      default:
        this.requests.resolve(frame);
    }
  }
}
