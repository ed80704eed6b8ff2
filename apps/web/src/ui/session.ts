import { ChatClient, ChatError, indexedDbStorage, type ConnectionState, type MessageBody, type OutboxSettled, type SendBody } from '@chat/client';
import { UserId, type ConversationKind } from '@chat/contracts';
import type { PageConfig } from '../shared';
import { expiresSoon, signInDev } from './auth';
import { splitUsers } from './format';
import { ChatStore, type Conversation } from './store';
import { movesFromReceipts } from './ticks';
import { TypingSender } from './typing';

/** Who is signed in on this page (kept in localStorage). */
export interface Auth {
  userId: string;
  deviceId: string;
  token: string;
  /** Signed in by name (POST /dev/token): a new token can be asked for when this one expires. */
  dev: boolean;
}

const HISTORY_PAGE = 50;
/** Receipts looked up per opened conversation to show the ticks of messages sent before this page loaded. */
const RECEIPT_LOOKUPS = 10;
const MAX_WATCHED = 500;
/** Reloads of the list while a conversation is known only from its messages (250 ms doubling). */
const LIST_RETRIES = 5;
/** History requests repeated while the read models do not have a conversation yet (250 ms doubling). */
const HISTORY_RETRIES = 4;
/** Presence subscriptions repeated while some members are not shown yet (250 ms doubling). */
const PRESENCE_RETRIES = 5;

let sendCounter = 0;
const clientMsgId = () => `web-${Date.now().toString(36)}-${(++sendCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** A message for a person, from whatever was thrown. */
export const describeError = (e: unknown): string => (e instanceof ChatError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e));

const isUp = (s: ConnectionState) => s === 'connected' || s === 'syncing';

/**
 * One signed-in page: the SDK's client (WebSocket and HTTP API, its outbox and cursor kept in
 * IndexedDB) and the store, wired together. The views call its methods and read the store.
 */
export class Session {
  readonly store: ChatStore;
  readonly client: ChatClient;
  private readonly typingSender = new TypingSender();
  private typingFor: string | null = null;
  private watched = '';
  private listLoading: Promise<void> | undefined;
  private listAgain = false;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private typingRetry: ReturnType<typeof setTimeout> | undefined;
  private readonly timeouts = new Set<ReturnType<typeof setTimeout>>();
  private readonly offs: Array<() => void> = [];
  private renewing: Promise<Auth> | undefined;
  /** The list was just loaded by start(): the first connect need not load it again. */
  private listFresh = false;
  private stopped = false;

  constructor(
    readonly cfg: PageConfig,
    public auth: Auth,
    private readonly hooks: { signedOut(reason: string): void; problem(message: string): void; renewed(auth: Auth): void },
  ) {
    this.store = new ChatStore(auth.userId);
    this.client = new ChatClient({
      url: cfg.wsUrl,
      httpUrl: cfg.httpUrl,
      getToken: () => this.token(),
      reconnect: true,
      autoAck: true,
      storage: indexedDbStorage(`chat-web:${auth.userId}:${auth.deviceId}`),
    });
  }

  /** The token for the next connection or request; a development sign-in renews one about to expire. */
  private async token(): Promise<string> {
    if (!this.auth.dev || !expiresSoon(this.auth.token)) return this.auth.token;
    this.renewing ??= signInDev(this.auth.userId).finally(() => (this.renewing = undefined));
    this.auth = await this.renewing;
    this.hooks.renewed(this.auth);
    return this.auth.token;
  }

  /** An <img> cannot send headers: the token goes in the query (docs/protocol.md, HTTP). */
  mediaUrl(mediaId: string, thumbnail: boolean): string {
    return `${this.cfg.httpUrl}/v1/media/${encodeURIComponent(mediaId)}${thumbnail ? '/thumbnail' : ''}?access_token=${encodeURIComponent(this.auth.token)}`;
  }

  /** Loads the list (a refused token signs out here), connects, and catches up from the stored cursor. */
  async start(): Promise<void> {
    this.wire();
    try {
      await this.reloadList();
      this.listFresh = true;
    } catch (e) {
      if (e instanceof ChatError && e.code === 'unauthorized') return this.signOut('Your session has ended: sign in again.');
      this.hooks.problem(`could not load the conversation list: ${describeError(e)}`);
    }
    await this.client.connect().catch(() => undefined); // the client keeps trying (reconnect); the state shows it
    // Sends a previous page left in the outbox (restored by connect) show as pending until answered.
    for (const e of this.client.pending) {
      if (e.frame.type !== 'message.send') continue;
      const c = this.store.conversations.get(e.frame.conversationId);
      if (c?.pending.some((p) => p.clientMsgId === e.id)) continue;
      this.store.sendStarted(e.frame.conversationId, e.id, 'media' in e.frame.body ? null : e.frame.body, new Date(e.queuedAt).toISOString());
    }
  }

  private wire(): void {
    const c = this.client;
    const s = this.store;
    this.offs.push(
      c.on('message', (f) => {
        if (s.message(f) === 'unlisted') this.reloadListSoon();
        if (f.conversationId === s.openId) this.markRead(f.conversationId);
      }),
      c.on('edited', (f) => s.edited(f)),
      c.on('deleted', (f) => s.deleted(f)),
      c.on('receipt', (f) => s.receipt(f.conversationId, f)),
      c.on('receipts', (f) => {
        for (const r of f.receipts) s.receipt(f.conversationId, r);
      }),
      c.on('activity', (f) => {
        if (!s.activity(f)) this.reloadListSoon();
      }),
      c.on('conversation', (f) => {
        s.updated(f);
        this.watchMembers();
      }),
      c.on('presence', (f) => s.setPresence([f])),
      c.on('typing', (f) => {
        s.typingFrame(f, Date.now());
        this.scheduleTypingExpiry();
      }),
      c.on('settled', (e) => this.settled(e)),
      c.on('state', (state) => {
        const was = s.connection;
        s.setConnection(state);
        if (isUp(state) && !isUp(was)) this.onConnected();
      }),
      c.on('unauthorized', () => this.signOut('The server refused your sign-in: sign in again.')),
      c.on('reset', () => {
        this.client.cursor = null;
        this.reloadListSoon();
        void this.catchUp();
      }),
      c.on('error', (f) => this.hooks.problem(`${f.message} (${f.code})`)),
      c.on('storageError', (e) => this.hooks.problem(`this browser's storage failed (${e.message}): unsent messages are kept in memory only`)),
    );
    const visible = () => {
      if (document.visibilityState === 'visible' && s.openId) this.markRead(s.openId);
    };
    document.addEventListener('visibilitychange', visible);
    this.offs.push(() => document.removeEventListener('visibilitychange', visible));
  }

  /**
   * After every connect: the list (activity frames are not synced: what changed while offline
   * is in the list), sync, presence (a set lasts one connection), receipts missed meanwhile.
   */
  private onConnected(): void {
    if (!this.listFresh) this.reloadListSoon();
    this.listFresh = false;
    this.watched = '';
    this.watchMembers();
    void this.catchUp();
    const open = this.store.openId;
    if (open) void this.refreshTicks(open);
  }

  private async catchUp(): Promise<void> {
    try {
      await this.client.syncAll();
    } catch {
      // Offline again: the next connect syncs.
    }
  }

  /** A send left the outbox: stored (✓) or refused. */
  private settled(e: OutboxSettled): void {
    if (e.frame.type !== 'message.send') return;
    const { conversationId, body } = e.frame;
    const shown = 'media' in body ? null : body;
    if (e.answer?.type === 'message.sent') this.store.sendStored(e.id, e.answer, shown);
    else if (e.error) this.store.sendFailed(conversationId, e.id, describeError(e.error));
  }

  // ------------------------------------------------------------------ list

  async reloadList(): Promise<void> {
    const entries = [];
    let cursor: string | undefined;
    do {
      const page = await this.client.http.conversations({ limit: 100, ...(cursor ? { cursor } : {}) });
      entries.push(...page.conversations);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    this.store.setList(entries);
    this.watchMembers();
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timeouts.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timeouts.add(t);
  }

  /**
   * One reload at a time; requests meanwhile make one more. While a conversation is known only
   * from a live message (the list's read model is a few ms behind live delivery), it tries again.
   */
  private reloadListSoon(attempt = 0): void {
    if (this.listLoading) {
      this.listAgain = true;
      return;
    }
    this.listLoading = this.reloadList()
      .catch((e: unknown) => this.hooks.problem(`could not load the conversation list: ${describeError(e)}`))
      .finally(() => {
        this.listLoading = undefined;
        if (this.listAgain) {
          this.listAgain = false;
          this.reloadListSoon();
        } else if (this.store.unlisted() > 0 && attempt < LIST_RETRIES) this.later(() => this.reloadListSoon(attempt + 1), 250 * 2 ** attempt);
      });
  }

  /** Presence of everyone this user shares a conversation with (the edge shows no one else). */
  private watchMembers(attempt = 0): void {
    if (!this.client.connected || this.stopped) return;
    const users = new Set<string>();
    for (const c of this.store.list()) for (const m of this.store.others(c)) users.add(m);
    const list = [...users].sort().slice(0, MAX_WATCHED);
    const key = list.join(',');
    if (key === this.watched && attempt === 0) return;
    this.watched = key;
    this.client.watchPresence(list).then(
      (snapshot) => {
        this.store.setPresence(snapshot);
        // The edge shows only users who share a conversation in its read model, which may not
        // hold a conversation created a moment ago: ask again a few times.
        if (snapshot.length < list.length && attempt < PRESENCE_RETRIES) {
          this.later(() => {
            if (this.watched === key) this.watchMembers(attempt + 1);
          }, 250 * 2 ** attempt);
        }
      },
      () => (this.watched = ''),
    );
  }

  // ------------------------------------------------------------------ a conversation

  /** Shows a conversation: its newest history page, its read mark, the ticks of earlier sends. */
  async open(conversationId: string | null): Promise<void> {
    if (this.typingFor && this.typingFor !== conversationId) this.stopTyping();
    this.store.open(conversationId);
    if (!conversationId) return;
    const c = this.store.conversations.get(conversationId);
    if (c && !c.history.loaded) await this.loadHistory(c);
    this.markRead(conversationId);
    await this.refreshTicks(conversationId);
  }

  private async loadHistory(c: Conversation, beforeSeq?: number): Promise<void> {
    if (c.history.loading) return;
    this.store.setHistoryLoading(c.conversationId, true);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          this.store.history(c.conversationId, await this.client.http.history(c.conversationId, { limit: HISTORY_PAGE, ...(beforeSeq ? { beforeSeq } : {}) }));
          return;
        } catch (e) {
          // A conversation that reached this page live may not be in the read models yet.
          const lagging = e instanceof ChatError && (e.code === 'not_found' || e.code === 'forbidden');
          if (!lagging || attempt >= HISTORY_RETRIES || this.stopped) throw e;
          await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        }
      }
    } catch (e) {
      this.hooks.problem(`could not load messages: ${describeError(e)}`);
    } finally {
      this.store.setHistoryLoading(c.conversationId, false);
    }
  }

  /** The page before the oldest message shown (scrolling up). */
  async loadOlder(conversationId: string): Promise<void> {
    const c = this.store.conversations.get(conversationId);
    if (!c || !c.history.hasMore || c.history.loading || c.shownFrom === null || c.shownFrom <= 1) return;
    await this.loadHistory(c, c.shownFrom);
  }

  /** Marks the open conversation read up to its newest message while the page is visible (through the outbox when offline). */
  markRead(conversationId: string): void {
    const c = this.store.conversations.get(conversationId);
    if (!c || document.visibilityState !== 'visible') return;
    const last = this.store.lastSeq(c);
    if (last <= 0 || (c.readSeq ?? 0) >= last) return;
    this.client.markRead(conversationId, last);
    this.store.markedRead(conversationId, last);
  }

  /**
   * Receipt frames only reach a connected page, so the ticks of sends from before this page
   * (or from while it was offline) come from the receipts API: newest own message first, until
   * every other member has read one (watermarks cover everything before it).
   */
  private async refreshTicks(conversationId: string): Promise<void> {
    const c = this.store.conversations.get(conversationId);
    if (!c || !this.store.others(c).length) return;
    const own = this.store.timeline(c).filter((m) => m.senderId === this.auth.userId && m.seq !== undefined && m.messageId && !m.system && !m.deleted).reverse();
    for (const m of own.slice(0, RECEIPT_LOOKUPS)) {
      if (this.store.tick(c, m) === 'read') return;
      try {
        for (const move of movesFromReceipts(m.seq!, await this.client.http.receipts(conversationId, m.messageId!))) this.store.receipt(conversationId, move);
      } catch {
        return; // shown as they are; live receipts still come
      }
    }
  }

  // ------------------------------------------------------------------ sending

  send(conversationId: string, text: string): void {
    const body = text.trim();
    if (!body) return;
    this.stopTyping();
    const id = clientMsgId();
    this.store.sendStarted(conversationId, id, { text: body }, new Date().toISOString());
    this.deliver(conversationId, id, { text: body });
  }

  /** Through the SDK's outbox: kept while offline, answered as `settled`. */
  private deliver(conversationId: string, id: string, body: SendBody): void {
    this.client.send({ conversationId, clientMsgId: id, body }).catch(() => undefined);
  }

  /** A photo: uploaded (docs/media.md), then sent with its caption; shown with a local preview meanwhile. */
  async sendImage(conversationId: string, file: File, caption: string): Promise<void> {
    const id = clientMsgId();
    const previewUrl = URL.createObjectURL(file);
    this.store.sendStarted(conversationId, id, null, new Date().toISOString(), { previewUrl });
    try {
      if (!file.type.startsWith('image/')) throw new Error(`${file.name} is not an image`);
      const { status: _status, ...media } = await this.client.http.uploadMedia(file, { contentType: file.type });
      const text = caption.trim();
      const body: MessageBody = { media, ...(text ? { text } : {}) };
      this.store.sendBody(conversationId, id, body);
      this.deliver(conversationId, id, { media: { mediaId: media.mediaId }, ...(text ? { text } : {}) });
    } catch (e) {
      this.store.sendFailed(conversationId, id, describeError(e));
    } finally {
      URL.revokeObjectURL(previewUrl);
    }
  }

  /** Creates a direct conversation (one user, no title) or a group. Throws with a message for the form. */
  async create(kind: ConversationKind, membersInput: string, titleInput: string): Promise<string> {
    const members = splitUsers(membersInput).filter((m) => m !== this.auth.userId);
    if (!members.length) throw new Error('Enter at least one other user.');
    const bad = members.find((m) => !UserId.safeParse(m).success);
    if (bad) throw new Error(`"${bad}" is not a user id (1-64 of A-Z a-z 0-9 _ . -).`);
    const title = titleInput.trim();
    if (kind === 'direct' && members.length !== 1) throw new Error('A chat is with one user; use a group for more.');
    if (kind === 'group' && !title) throw new Error('A group needs a title.');
    if (title.length > 200) throw new Error('A title has at most 200 characters.');
    const created = await this.client.createConversation({ kind, members, ...(kind === 'group' ? { title } : {}) });
    this.store.created(created, kind === 'group' ? title : null, new Date().toISOString());
    this.watchMembers();
    return created.conversationId;
  }

  // ------------------------------------------------------------------ typing

  /** After each edit of the draft. */
  draftChanged(conversationId: string, draft: string): void {
    if (this.typingFor !== null && this.typingFor !== conversationId) this.stopTyping();
    clearTimeout(this.typingRetry);
    const now = Date.now();
    const signal = this.typingSender.input(draft.trim() === '', now);
    if (signal === 'stop') this.typingFor = null;
    else if (draft.trim() !== '') this.typingFor = conversationId;
    if (signal) this.sendTyping(conversationId, signal);
    // Typing again right after a send: the `start` goes out once the edge would forward it.
    const wait = this.typingSender.waitMs(now);
    if (wait !== null) this.typingRetry = setTimeout(() => this.draftChanged(conversationId, draft), wait);
  }

  private stopTyping(): void {
    clearTimeout(this.typingRetry);
    const was = this.typingFor;
    const signal = this.typingSender.stopped();
    this.typingFor = null;
    if (signal && was) this.sendTyping(was, signal);
  }

  private sendTyping(conversationId: string, state: 'start' | 'stop'): void {
    if (!this.client.connected) return;
    try {
      this.client.typing(conversationId, state);
    } catch {
      // best effort, like typing itself
    }
  }

  /** Re-renders when the next typing indicator runs out. */
  private scheduleTypingExpiry(): void {
    clearTimeout(this.typingTimer);
    const next = this.store.typing.nextExpiry(Date.now());
    if (next === null) return;
    this.typingTimer = setTimeout(() => {
      this.store.changed();
      this.scheduleTypingExpiry();
    }, next - Date.now() + 20);
  }

  // ------------------------------------------------------------------ leaving

  signOut(reason = ''): void {
    this.stop();
    this.hooks.signedOut(reason);
  }

  /** Closes the client; what its outbox holds stays in IndexedDB for the next page. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const off of this.offs.splice(0)) off();
    for (const t of this.timeouts) clearTimeout(t);
    this.timeouts.clear();
    clearTimeout(this.typingTimer);
    clearTimeout(this.typingRetry);
    this.client.close();
    this.store.setConnection('disconnected');
  }
}
