import type { ConnectionState, MessageBody, ServerFrameOf } from '@chat/client';
import type { ConversationKind, ConversationListEntry, HistoryMessage, LastMessage, PresenceInfo } from '@chat/contracts';
import { previewOf } from './format';
import { applyReceipt, tickOf, type Mark, type ReceiptMove, type Tick } from './ticks';
import { TypingState } from './typing';
import { unreadCount, type UnreadState } from './unread';

export interface ChatMessage {
  conversationId: string;
  /** Set once stored (own messages: at `message.sent`). */
  seq?: number;
  messageId?: string;
  /** Own sends from this page, until and after they are stored. */
  clientMsgId?: string;
  senderId: string;
  /** Null: deleted for everyone, or expired. */
  body: MessageBody | null;
  sentAt: string;
  system?: boolean;
  deleted?: boolean;
  /** Deleted for this user only: kept for seq accounting, not shown. */
  hidden?: boolean;
  editedAt?: string;
  /** Own message the server refused or that could not be sent: why. */
  failed?: string;
  /** Own photo still uploading: a local preview. */
  uploading?: { previewUrl: string };
}

export interface Conversation extends UnreadState {
  conversationId: string;
  kind: ConversationKind;
  title: string | null;
  /** Null for groups over 64 members (the list leaves them out). */
  members: string[] | null;
  lastMessage: LastMessage | null;
  lastActivityAt: string;
  /** False while only its messages are known (a list reload is under way). */
  listed: boolean;
  /** The server's list has had it: missing from a later list, it is gone (left, removed). */
  fromServer: boolean;
  /** Stored messages by seq. */
  messages: Map<number, ChatMessage>;
  /** Own sends not stored yet, in send order. */
  pending: ChatMessage[];
  history: { loaded: boolean; hasMore: boolean; loading: boolean };
  /**
   * The oldest seq the chat view shows (null until the first history page): opening shows the
   * newest page, scrolling up moves it back a page at a time, whatever else is held.
   */
  shownFrom: number | null;
  /** Other members' delivered/read watermarks. */
  marks: Map<string, Mark>;
}

type NewMessage = ServerFrameOf<'message.new'> | HistoryMessage;

const later = (a: string, b: string) => (Date.parse(a) >= Date.parse(b) ? a : b);

/**
 * Everything the page shows, kept from the HTTP API's answers and the client's events. No DOM
 * and no I/O: the session feeds it, the views read it after each change.
 */
export class ChatStore {
  readonly conversations = new Map<string, Conversation>();
  readonly presence = new Map<string, PresenceInfo>();
  readonly typing = new TypingState();
  /** The SDK's connection state. */
  connection: ConnectionState = 'disconnected';
  openId: string | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(readonly me: string) {}

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(): void {
    for (const fn of this.listeners) fn();
  }

  // ------------------------------------------------------------------ reads

  /** Conversations known from their messages only, waiting for the list to show them. */
  unlisted(): number {
    let n = 0;
    for (const c of this.conversations.values()) if (!c.listed) n++;
    return n;
  }

  /** The conversation list, newest activity first. */
  list(): Conversation[] {
    return [...this.conversations.values()].filter((c) => c.listed).sort((a, b) => Date.parse(b.lastActivityAt) - Date.parse(a.lastActivityAt) || a.conversationId.localeCompare(b.conversationId));
  }

  unread(c: Conversation): number {
    return unreadCount(c, c.messages, this.me);
  }

  /** Members other than this user. */
  others(c: Conversation): string[] {
    return (c.members ?? []).filter((m) => m !== this.me);
  }

  /** The tick of an own message; null for others' messages. */
  tick(c: Conversation, m: ChatMessage): Tick | null {
    if (m.senderId !== this.me || m.system) return null;
    return tickOf(m, this.others(c), c.marks);
  }

  /** What the chat view lists: stored messages from `shownFrom` on by seq, then own sends waiting. */
  timeline(c: Conversation): ChatMessage[] {
    const from = c.shownFrom;
    const stored = from === null ? [] : [...c.messages.values()].filter((m) => !m.hidden && m.seq! >= from).sort((a, b) => a.seq! - b.seq!);
    return [...stored, ...c.pending];
  }

  /** The highest seq this page holds of a conversation. */
  lastSeq(c: Conversation): number {
    let max = c.lastMessage?.seq ?? 0;
    for (const seq of c.messages.keys()) if (seq > max) max = seq;
    return max;
  }

  // ------------------------------------------------------------------ conversations

  private ensure(conversationId: string, kind: ConversationKind = conversationId.startsWith('d-') ? 'direct' : 'group'): Conversation {
    let c = this.conversations.get(conversationId);
    if (!c) {
      c = {
        conversationId,
        kind,
        title: null,
        members: null,
        lastMessage: null,
        lastActivityAt: new Date(0).toISOString(),
        listed: false,
        fromServer: false,
        baseUnread: 0,
        baseSeq: 0,
        readSeq: null,
        messages: new Map(),
        pending: [],
        history: { loaded: false, hasMore: false, loading: false },
        shownFrom: null,
        marks: new Map(),
      };
      this.conversations.set(conversationId, c);
    }
    return c;
  }

  /**
   * `GET /v1/conversations`: the authoritative list. A conversation it had before and no longer
   * has is gone (left, removed); one known only from its messages or created here a moment ago
   * stays (the read models may not hold it yet).
   */
  setList(entries: readonly ConversationListEntry[]): void {
    const keep = new Set(entries.map((e) => e.conversationId));
    for (const [id, c] of this.conversations) if (c.fromServer && !keep.has(id) && id !== this.openId) this.conversations.delete(id);
    for (const e of entries) {
      const c = this.ensure(e.conversationId, e.kind);
      Object.assign(c, {
        kind: e.kind,
        title: e.title,
        members: e.members,
        lastMessage: e.lastMessage,
        lastActivityAt: e.lastActivityAt,
        listed: true,
        fromServer: true,
        baseUnread: e.unreadCount,
        baseSeq: e.lastMessage?.seq ?? 0,
      });
    }
    this.changed();
  }

  /** `conversation.activity`: the entry as it is now. False when the conversation is not known here (reload the list). */
  activity(f: ServerFrameOf<'conversation.activity'>): boolean {
    const c = this.conversations.get(f.conversationId);
    if (!c?.listed) return false;
    c.lastMessage = f.lastMessage;
    c.lastActivityAt = f.lastActivityAt;
    c.baseUnread = f.unreadCount;
    c.baseSeq = f.lastMessage?.seq ?? 0;
    this.changed();
    return true;
  }

  /** `conversation.updated`: members, roles, metadata; `member: false` removes it. */
  updated(f: ServerFrameOf<'conversation.updated'>): void {
    if (f.member === false) {
      this.conversations.delete(f.conversationId);
      if (this.openId === f.conversationId) this.openId = null;
    } else {
      const c = this.ensure(f.conversationId, f.kind);
      c.kind = f.kind;
      c.members = f.members;
      if (f.title !== undefined) c.title = f.title;
    }
    this.changed();
  }

  /**
   * The answer to this user's `conversation.create`. One not listed before is new: it has no
   * history to load (the read models may not even have it yet). A direct conversation created
   * again is the existing one.
   */
  created(f: ServerFrameOf<'conversation.created'>, title: string | null, now: string): Conversation {
    const c = this.ensure(f.conversationId, f.kind);
    const fresh = !c.listed && c.messages.size === 0;
    c.kind = f.kind;
    c.members = [...new Set([this.me, ...f.members])];
    if (title) c.title = title;
    c.listed = true;
    if (fresh) {
      c.lastActivityAt = now;
      c.history = { loaded: true, hasMore: false, loading: false };
      c.shownFrom = 1;
    }
    this.changed();
    return c;
  }

  // ------------------------------------------------------------------ messages

  /**
   * A message from a live frame, a sync or a history page, de-duplicated by seq. Returns
   * 'unlisted' when its conversation is not in the list yet (reload the list).
   */
  message(m: NewMessage): 'new' | 'duplicate' | 'unlisted' {
    const c = this.ensure(m.conversationId);
    const known = c.messages.get(m.seq);
    // An own send restored from a previous page's outbox is held without its media until its message arrives.
    const placeholder = known !== undefined && known.body === null && !known.deleted && m.body !== null;
    if (known && !placeholder) return 'duplicate';
    const msg: ChatMessage = {
      conversationId: m.conversationId,
      seq: m.seq,
      messageId: m.messageId,
      ...(known?.clientMsgId ? { clientMsgId: known.clientMsgId } : {}),
      senderId: m.senderId,
      body: m.body,
      sentAt: m.sentAt,
      ...(m.system ? { system: true } : {}),
      ...('deletedAt' in m && m.deletedAt ? { deleted: true } : {}),
      ...(m.editedAt ? { editedAt: m.editedAt } : {}),
    };
    c.messages.set(m.seq, msg);
    this.typing.stop(m.conversationId, m.senderId);
    this.touch(c, msg);
    this.changed();
    return c.listed ? 'new' : 'unlisted';
  }

  /** A page of `GET …/messages` paging back (the newest page first); the view shows it and everything after. */
  history(conversationId: string, page: { messages: readonly HistoryMessage[]; hasMore: boolean }): void {
    const c = this.ensure(conversationId);
    for (const m of page.messages) if (!c.messages.has(m.seq)) this.message(m);
    const first = page.messages[0]?.seq;
    c.shownFrom = Math.min(c.shownFrom ?? Infinity, first ?? 1);
    c.history.loaded = true;
    c.history.hasMore = page.hasMore;
    this.changed();
  }

  setHistoryLoading(conversationId: string, loading: boolean): void {
    const c = this.conversations.get(conversationId);
    if (!c) return;
    c.history.loading = loading;
    this.changed();
  }

  /** The list entry follows its newest message. */
  private touch(c: Conversation, m: ChatMessage): void {
    if (m.seq === undefined) return;
    if (!c.lastMessage || m.seq > c.lastMessage.seq) {
      c.lastMessage = { messageId: m.messageId!, seq: m.seq, senderId: m.senderId, preview: previewOf(m.body), sentAt: m.sentAt };
      c.lastActivityAt = later(m.sentAt, c.lastActivityAt);
    }
  }

  edited(f: ServerFrameOf<'message.edited'>): void {
    const m = this.conversations.get(f.conversationId)?.messages.get(f.seq);
    if (!m) return;
    // A live edit of a media message carries the caption only (docs/protocol.md, message.edit).
    m.body = m.body && 'media' in m.body && !('media' in f.body) ? { ...m.body, ...(f.body.text ? { text: f.body.text } : {}) } : f.body;
    m.editedAt = f.editedAt;
    this.changed();
  }

  deleted(f: ServerFrameOf<'message.deleted'>): void {
    const c = this.ensure(f.conversationId);
    const m = c.messages.get(f.seq) ?? { conversationId: f.conversationId, seq: f.seq, messageId: f.messageId, senderId: '', body: null, sentAt: f.deletedAt };
    m.body = null;
    m.deleted = true;
    if (f.scope === 'me') m.hidden = true;
    c.messages.set(f.seq, m);
    this.changed();
  }

  /** An own send, shown at once as pending (◷). */
  sendStarted(conversationId: string, clientMsgId: string, body: MessageBody | null, now: string, uploading?: { previewUrl: string }): void {
    const c = this.ensure(conversationId);
    c.pending.push({ conversationId, clientMsgId, senderId: this.me, body, sentAt: now, ...(uploading ? { uploading } : {}) });
    this.changed();
  }

  /** The photo was uploaded: the pending message now carries its media. */
  sendBody(conversationId: string, clientMsgId: string, body: MessageBody): void {
    const m = this.conversations.get(conversationId)?.pending.find((p) => p.clientMsgId === clientMsgId);
    if (!m) return;
    m.body = body;
    delete m.uploading;
    this.changed();
  }

  /**
   * `message.sent`: the send is stored (✓). `sentBody` is the body as sent, for a send this page
   * did not start (restored from a previous page's outbox); media there is an id only.
   */
  sendStored(clientMsgId: string, sent: ServerFrameOf<'message.sent'>, sentBody: MessageBody | null = null): void {
    const c = this.ensure(sent.conversationId);
    const i = c.pending.findIndex((p) => p.clientMsgId === clientMsgId);
    const p = i >= 0 ? c.pending.splice(i, 1)[0]! : undefined;
    if (!c.messages.has(sent.seq)) {
      const m: ChatMessage = { conversationId: sent.conversationId, seq: sent.seq, messageId: sent.messageId, clientMsgId, senderId: this.me, body: p?.body ?? sentBody, sentAt: sent.sentAt };
      c.messages.set(sent.seq, m);
      this.touch(c, m);
    } else c.messages.get(sent.seq)!.clientMsgId = clientMsgId;
    this.changed();
  }

  sendFailed(conversationId: string, clientMsgId: string, why: string): void {
    const m = this.conversations.get(conversationId)?.pending.find((p) => p.clientMsgId === clientMsgId);
    if (!m) return;
    m.failed = why;
    delete m.uploading;
    this.changed();
  }

  // ------------------------------------------------------------------ receipts, presence, typing

  /** A watermark move; one about this user (another device read) moves their own read mark. */
  receipt(conversationId: string, r: ReceiptMove): void {
    const c = this.conversations.get(conversationId);
    if (!c) return;
    if (r.userId === this.me) {
      if (r.status === 'read') this.markedRead(conversationId, r.upToSeq);
      return;
    }
    if (applyReceipt(c.marks, r)) this.changed();
  }

  /** This user read up to `seq` (here or on another device). */
  markedRead(conversationId: string, seq: number): void {
    const c = this.conversations.get(conversationId);
    if (!c || (c.readSeq ?? 0) >= seq) return;
    c.readSeq = seq;
    this.changed();
  }

  setPresence(users: readonly PresenceInfo[]): void {
    for (const p of users) this.presence.set(p.userId, { userId: p.userId, online: p.online, lastSeenAt: p.lastSeenAt });
    this.changed();
  }

  typingFrame(f: ServerFrameOf<'typing'>, now: number): void {
    this.typing.apply(f, now);
    this.changed();
  }

  setConnection(state: ConnectionState): void {
    if (this.connection === state) return;
    this.connection = state;
    this.changed();
  }

  open(conversationId: string | null): void {
    this.openId = conversationId;
    this.changed();
  }
}
