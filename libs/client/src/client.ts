import { ChatError, type ClientFrame, type SendBody, type TextBody, type ServerFrame, type ServerFrameOf, type ConversationKind, type Role } from '@chat/contracts';
import { DeliveredAcks } from './acks';
import { Connection, type ReconnectOption, type WebSocketFactory } from './connection';
import { Emitter } from './emitter';
import { Outbox } from './outbox';
import { newId, Requests, type AnsweredBy, type RequestFrame } from './requests';
import { isSyncedFrame, Timeline } from './timeline';

export type { WebSocketLike, WebSocketFactory } from './connection';
export type { AnswerOf } from './requests';

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
  reconnect?: ReconnectOption;
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
  /** A watched user's presence changed (after `watchPresence`). */
  presence: [ServerFrameOf<'presence'>];
  /** Another member started or stopped typing; treat a `start` as ended after 5 s without another. */
  typing: [ServerFrameOf<'typing'>];
  /** Every frame as it arrives, before de-duplication. */
  frame: [ServerFrame];
  close: [{ code: number; reason: string }];
};

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A typed client for the chat protocol. It de-duplicates messages by (conversationId, seq)
 * and keeps the sync cursor: only sync batches move it (a sync runs shortly after live
 * traffic), so a cursor stored by the app never skips anything.
 */
export class ChatClient extends Emitter<ChatEvents> {
  hello?: ServerFrameOf<'hello'>;
  /** Counters an app (or a test) can read: reconnects, duplicates dropped, gaps repaired, outbox frames written on reconnects. */
  readonly stats = { reconnects: 0, duplicatesDropped: 0, gapsRepaired: 0, resent: 0 };
  private readonly connection: Connection;
  private readonly requests: Requests;
  /** Sends not yet answered, by clientMsgId: re-sent as they were after a reconnect. */
  private readonly outbox = new Outbox();
  private readonly timeline: Timeline;
  private readonly acks: DeliveredAcks;

  constructor(private readonly opts: ChatClientOptions) {
    super();
    this.connection = new Connection(
      { url: opts.url, token: opts.token, createSocket: opts.createSocket, connectTimeoutMs: opts.requestTimeoutMs ?? 10_000, reconnect: opts.reconnect },
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
      },
    );
    const connected = () => this.connection.connected;
    const write = (frame: ClientFrame) => this.connection.write(frame);
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
      },
      opts.cursor ?? null,
    );
  }

  /** The last cursor this client has processed everything up to. */
  get cursor(): string | null {
    return this.timeline.cursor;
  }
  set cursor(c: string | null) {
    this.timeline.cursor = c;
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  connect(): Promise<ServerFrameOf<'hello'>> {
    return this.connection.connect();
  }

  /** After every `hello`: re-send the outbox; after a reconnect, catch up with sync. */
  private onOpen(hello: ServerFrameOf<'hello'>, { reconnected, attempt }: { reconnected: boolean; attempt: number }): void {
    this.hello = hello;
    const resent = this.outbox.resend((frame) => this.connection.send(JSON.stringify(frame)));
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

  /** Closes for good: no reconnect; unacknowledged sends are failed. */
  close(code = 1000, reason = 'bye'): void {
    this.timeline.stop();
    this.acks.stop();
    this.outbox.clear();
    this.connection.close(code, reason);
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
   * and is re-sent (same clientMsgId, so stored once) after every reconnect.
   */
  async send(input: { conversationId: string; body: SendBody; clientMsgId?: string; replyTo?: string; mentions?: string[] }) {
    const clientMsgId = input.clientMsgId ?? newId('m');
    const frame = { type: 'message.send' as const, ...input, clientMsgId };
    if (!this.connection.reconnects) return this.stored(frame);
    return this.outbox.track(clientMsgId, frame, () => this.stored(frame, { timeoutMs: this.opts.sendTimeoutMs ?? 300_000, queueWhenOffline: true }));
  }

  /** Sends still waiting for `message.sent`. */
  get pendingSends(): number {
    return this.outbox.size;
  }

  forward(input: { conversationId: string; from: { conversationId: string; messageId: string }; clientMsgId?: string }) {
    return this.stored({ type: 'message.forward', ...input, clientMsgId: input.clientMsgId ?? newId('m') });
  }

  /** A send or forward; its message counts as seen once stored. */
  private async stored(frame: RequestFrame & { type: AnsweredBy<'message.sent'> }, o?: { timeoutMs?: number; queueWhenOffline?: boolean }) {
    const sent = await this.requests.request(frame, o);
    this.timeline.markOwn(sent.conversationId, sent.seq);
    return sent;
  }

  /** Replaces a message's text (a media message's caption; its media stays). */
  edit(conversationId: string, messageId: string, body: TextBody) {
    return this.requests.request({ type: 'message.edit', ref: newId('e'), conversationId, messageId, body });
  }

  delete(conversationId: string, messageId: string, scope: 'everyone' | 'me') {
    return this.requests.request({ type: 'message.delete', ref: newId('x'), conversationId, messageId, scope });
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

  markDelivered(conversationId: string, upToSeq: number): void {
    this.connection.write({ type: 'message.delivered', conversationId, upToSeq });
  }

  markRead(conversationId: string, upToSeq: number): void {
    this.connection.write({ type: 'message.read', conversationId, upToSeq });
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
      case 'receipt':
        return this.emit('receipt', frame);
      case 'receipt.batch':
        return this.emit('receipts', frame);
      case 'conversation.activity':
        return this.emit('activity', frame);
      case 'presence':
        return this.emit('presence', frame);
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
      case 'error':
        if (!this.requests.reject(frame)) this.emit('error', frame);
        return;
      default:
        this.requests.resolve(frame);
    }
  }
}
