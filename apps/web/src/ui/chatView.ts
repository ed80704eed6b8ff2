import { conversationTitle, directPeer, presenceText, timeOf } from './format';
import { h, replaceChildren, setAttr, setText } from './dom';
import type { Session } from './session';
import type { ChatMessage, Conversation } from './store';
import { TICK_MARK } from './ticks';
import { typingText } from './typing';

/** Pixels from the top of the message list at which the previous history page is loaded. */
const LOAD_OLDER_AT = 80;
/** Within this many pixels of the bottom, new messages keep the list scrolled to the bottom. */
const STICK_TO_BOTTOM = 60;

interface Row {
  el: HTMLLIElement;
  /** What the row's content was built from; rebuilt when it changes. */
  sig: string;
  tick: HTMLSpanElement | null;
}

/** The open conversation: header (title, presence or typing), the message list, the composer. */
export class ChatView {
  readonly el: HTMLElement;
  private readonly title = h('h2', { class: 'chat-title' });
  private readonly status = h('p', { class: 'chat-status', 'aria-live': 'polite' });
  private readonly list = h('ol', { class: 'messages', 'aria-label': 'Messages' });
  private readonly top = h('li', { class: 'history-top' });
  private readonly text = h('input', { name: 'text', type: 'text', placeholder: 'Message', autocomplete: 'off', maxlength: 16000, 'aria-label': 'Message' });
  private readonly file = h('input', { name: 'photo', type: 'file', accept: 'image/*', class: 'visually-hidden' });
  private readonly rows = new Map<string, Row>();
  private shownId: string | null = null;

  constructor(private readonly session: Session) {
    const composer = h(
      'form',
      { class: 'composer', onsubmit: (ev) => this.submit(ev) },
      h('label', { class: 'attach', title: 'Send a photo' }, 'Photo', this.file),
      this.text,
      h('button', { type: 'submit', class: 'send' }, 'Send'),
    );
    this.text.addEventListener('input', () => {
      if (this.shownId) this.session.draftChanged(this.shownId, this.text.value);
    });
    this.file.addEventListener('change', () => {
      const f = this.file.files?.[0];
      if (!f || !this.shownId) return;
      void this.session.sendImage(this.shownId, f, this.text.value);
      this.text.value = '';
      this.file.value = '';
    });
    this.list.append(this.top);
    this.list.addEventListener('scroll', () => {
      if (this.shownId && this.list.scrollTop < LOAD_OLDER_AT) void this.session.loadOlder(this.shownId);
    });
    this.el = h('section', { class: 'chat' }, h('header', { class: 'chat-header' }, this.title, this.status), this.list, composer);
  }

  private submit(ev: Event): void {
    ev.preventDefault();
    if (!this.shownId || !this.text.value.trim()) return;
    this.session.send(this.shownId, this.text.value);
    this.text.value = '';
    this.list.scrollTop = this.list.scrollHeight;
  }

  render(c: Conversation): void {
    const store = this.session.store;
    const me = store.me;
    const switched = this.shownId !== c.conversationId;
    if (switched) {
      for (const r of this.rows.values()) r.el.remove();
      this.rows.clear();
      this.shownId = c.conversationId;
      this.text.value = '';
      this.el.dataset['conversationId'] = c.conversationId;
    }
    setText(this.title, conversationTitle(c, me));
    const typing = typingText(store.typing.who(c.conversationId, Date.now()));
    setAttr(this.status, 'data-typing', typing !== '');
    setText(this.status, typing || this.presenceLine(c));

    setAttr(this.top, 'data-has-more', c.history.hasMore);
    if (c.history.loading) setText(this.top, 'Loading older messages…');
    else if (c.history.hasMore) {
      if (!this.top.querySelector('button')) replaceChildren(this.top, h('button', { type: 'button', class: 'load-older', onclick: () => void this.session.loadOlder(c.conversationId) }, 'Load older messages'));
    } else setText(this.top, c.history.loaded ? 'Beginning of the conversation' : '');

    const before = { height: this.list.scrollHeight, top: this.list.scrollTop, first: this.top.nextElementSibling };
    const atBottom = before.height - before.top - this.list.clientHeight < STICK_TO_BOTTOM;

    const wanted = new Set<string>();
    let prev: Element = this.top;
    let ownAdded = false;
    for (const m of store.timeline(c)) {
      const key = m.clientMsgId ? `c:${m.clientMsgId}` : `s:${m.seq}`;
      wanted.add(key);
      let row = this.rows.get(key);
      const sig = this.signature(m);
      if (!row) {
        row = { el: h('li'), sig: '', tick: null };
        this.rows.set(key, row);
        if (m.senderId === me && m.seq === undefined) ownAdded = true; // a new send: show it
      }
      if (row.sig !== sig) this.build(row, c, m, sig);
      const tick = store.tick(c, m);
      setAttr(row.el, 'data-seq', m.seq === undefined ? null : String(m.seq));
      setAttr(row.el, 'data-tick', tick);
      if (row.tick && tick) {
        setAttr(row.tick, 'data-tick', tick);
        setAttr(row.tick, 'title', TICK_MARK[tick].label);
        setAttr(row.tick, 'aria-label', TICK_MARK[tick].label);
        setText(row.tick, TICK_MARK[tick].symbol);
      }
      if (prev.nextElementSibling !== row.el) prev.after(row.el);
      prev = row.el;
    }
    for (const [key, row] of this.rows) {
      if (wanted.has(key)) continue;
      row.el.remove();
      this.rows.delete(key);
    }

    if (switched || (ownAdded && !c.history.loading) || atBottom) this.list.scrollTop = this.list.scrollHeight;
    else if (before.first && this.top.nextElementSibling !== before.first) this.list.scrollTop = before.top + (this.list.scrollHeight - before.height);
  }

  private presenceLine(c: Conversation): string {
    const store = this.session.store;
    const peer = directPeer(c, store.me);
    if (peer) return presenceText(store.presence.get(peer));
    const others = store.others(c);
    const online = others.filter((u) => store.presence.get(u)?.online).length;
    const count = c.members?.length;
    return `${count ?? 'many'} members${online ? `, ${online} online` : ''}`;
  }

  private signature(m: ChatMessage): string {
    return JSON.stringify([m.body, m.deleted, m.editedAt, m.failed, m.uploading?.previewUrl, m.system, m.seq !== undefined]);
  }

  private build(row: Row, c: Conversation, m: ChatMessage, sig: string): void {
    const me = this.session.store.me;
    const own = m.senderId === me;
    const kind = m.system ? 'system' : own ? 'own' : 'theirs';
    row.sig = sig;
    row.el.className = `message ${kind}`;
    setAttr(row.el, 'data-sender', m.senderId);
    setAttr(row.el, 'data-message-id', m.messageId);
    setAttr(row.el, 'data-client-msg-id', m.clientMsgId);
    if (m.system) {
      row.tick = null;
      replaceChildren(row.el, h('span', { class: 'system-text' }, m.body && 'text' in m.body ? (m.body.text ?? '') : ''));
      return;
    }
    const content = h('div', { class: 'content' });
    if (m.uploading) content.append(h('img', { class: 'thumb uploading', src: m.uploading.previewUrl, alt: 'Uploading photo' }), h('span', { class: 'note' }, 'Uploading…'));
    else if (m.body && 'media' in m.body) content.append(this.media(m.body.media));
    if (m.body?.text) content.append(h('p', { class: 'text' }, m.body.text));
    else if (!m.body && !m.uploading) content.append(h('p', { class: 'text gone' }, m.deleted ? 'This message was deleted' : m.seq === undefined && !m.failed ? '' : 'This message has expired'));
    if (m.failed) content.append(h('p', { class: 'failed', role: 'alert' }, `Not sent: ${m.failed}`));
    row.tick = own ? h('span', { class: 'tick' }) : null;
    replaceChildren(
      row.el,
      c.kind === 'group' && !own ? h('span', { class: 'sender' }, m.senderId) : null,
      content,
      h('span', { class: 'meta' }, h('time', { datetime: m.sentAt }, timeOf(m.sentAt)), m.editedAt ? h('span', { class: 'edited' }, 'edited') : null, row.tick),
    );
  }

  private media(media: { mediaId: string; contentType: string; thumbnail?: { width: number; height: number } | undefined; width?: number | undefined; height?: number | undefined }): HTMLElement {
    const s = this.session;
    if (!media.contentType.startsWith('image/')) return h('a', { href: s.mediaUrl(media.mediaId, false), target: '_blank', rel: 'noopener' }, `File (${media.contentType})`);
    const size = media.thumbnail ?? (media.width && media.height ? fit(media.width, media.height, 320) : undefined);
    const img = h('img', {
      class: 'thumb',
      src: s.mediaUrl(media.mediaId, media.thumbnail !== undefined),
      alt: 'Photo',
      'data-media-id': media.mediaId,
      'data-state': 'loading',
      width: size?.width,
      height: size?.height,
    });
    img.addEventListener('load', () => setAttr(img, 'data-state', 'loaded'));
    img.addEventListener('error', () => setAttr(img, 'data-state', 'error'));
    return h('a', { href: s.mediaUrl(media.mediaId, false), target: '_blank', rel: 'noopener', class: 'photo' }, img);
  }
}

function fit(width: number, height: number, max: number): { width: number; height: number } {
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}
