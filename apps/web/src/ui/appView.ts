import type { ConversationKind } from '@chat/contracts';
import { ChatView } from './chatView';
import { h, replaceChildren, setAttr, setText } from './dom';
import { conversationTitle, directPeer, timeOf } from './format';
import { describeError, type Session } from './session';
import type { Conversation } from './store';

const CONNECTION_TEXT = { disconnected: 'offline', connecting: 'connecting…', syncing: 'syncing…', connected: 'online' } as const;

/** The signed-in page: top bar, conversation list with the new-conversation form, and the open chat. */
export class AppView {
  readonly el: HTMLElement;
  private readonly connection = h('span', { class: 'connection', role: 'status' });
  private readonly list = h('ul', { class: 'conversations', 'aria-label': 'Conversations' });
  private readonly main = h('main', { class: 'main' });
  private readonly empty = h('p', { class: 'empty' }, 'Pick a conversation, or start one on the left.');
  private readonly problem = h('p', { class: 'problem', role: 'alert' });
  private readonly formError = h('p', { class: 'form-error', role: 'alert' });
  private readonly chat: ChatView;
  private scheduled = false;
  private problemTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly session: Session) {
    this.chat = new ChatView(session);
    const members = h('input', { name: 'members', type: 'text', placeholder: 'user, or users for a group', autocomplete: 'off', 'aria-label': 'Members' });
    const title = h('input', { name: 'title', type: 'text', placeholder: 'group title', autocomplete: 'off', maxlength: 200, 'aria-label': 'Group title' });
    const create = (kind: ConversationKind) => async (ev: Event) => {
      ev.preventDefault();
      setText(this.formError, '');
      try {
        this.open(await this.session.create(kind, members.value, title.value));
        members.value = '';
        title.value = '';
      } catch (e) {
        setText(this.formError, describeError(e));
      }
    };
    const form = h(
      'form',
      {
        class: 'new-conversation',
        // Enter in the form: a group when it has a title; the Chat button: always a direct chat.
        onsubmit: (ev) => {
          const chat = (ev as SubmitEvent).submitter?.getAttribute('name') === 'direct';
          void create(!chat && title.value.trim() ? 'group' : 'direct')(ev);
        },
      },
      members,
      title,
      h('div', { class: 'buttons' }, h('button', { type: 'submit', name: 'direct' }, 'Chat'), h('button', { type: 'button', name: 'group', onclick: (ev) => void create('group')(ev) }, 'New group')),
      this.formError,
    );
    this.el = h(
      'div',
      { class: 'app', 'data-user': session.auth.userId },
      h(
        'header',
        { class: 'topbar' },
        h('strong', { class: 'brand' }, 'Chat'),
        h('span', { class: 'me' }, session.auth.userId),
        this.connection,
        h('button', { type: 'button', class: 'sign-out', onclick: () => session.signOut() }, 'Sign out'),
      ),
      h('aside', { class: 'sidebar' }, form, this.list),
      this.main,
      this.problem,
    );
    session.store.onChange(() => this.schedule());
    this.render();
  }

  /** Shows a passing problem (a refused frame, a failed load) for a while. */
  showProblem(message: string): void {
    setText(this.problem, message);
    clearTimeout(this.problemTimer);
    this.problemTimer = setTimeout(() => setText(this.problem, ''), 8_000);
  }

  /** Renders once per burst of changes. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.render();
    });
  }

  private render(): void {
    const store = this.session.store;
    setAttr(this.connection, 'data-connection', store.connection);
    setText(this.connection, CONNECTION_TEXT[store.connection]);
    replaceChildren(this.list, ...store.list().map((c) => this.item(c)));
    const open = store.openId ? store.conversations.get(store.openId) : undefined;
    if (open) {
      if (this.chat.el.parentElement !== this.main) replaceChildren(this.main, this.chat.el);
      this.chat.render(open);
    } else if (this.empty.parentElement !== this.main) replaceChildren(this.main, this.empty);
  }

  private item(c: Conversation): HTMLLIElement {
    const store = this.session.store;
    const unread = store.unread(c);
    const peer = directPeer(c, store.me);
    const presence = peer ? store.presence.get(peer) : undefined;
    const last = c.lastMessage;
    const preview = last ? `${last.senderId === store.me ? 'You' : last.senderId}: ${last.preview}` : c.kind === 'group' ? 'New group' : 'No messages yet';
    return h(
      'li',
      { class: 'conversation', 'data-conversation-id': c.conversationId, 'data-kind': c.kind, 'aria-current': store.openId === c.conversationId ? 'true' : null },
      h(
        'button',
        { type: 'button', class: 'open', onclick: () => this.open(c.conversationId) },
        h('span', { class: 'avatar', 'data-online': peer ? String(presence?.online ?? false) : null }, conversationTitle(c, store.me).slice(0, 1).toUpperCase()),
        h('span', { class: 'name' }, conversationTitle(c, store.me)),
        h('time', { class: 'when' }, last ? timeOf(last.sentAt) : ''),
        h('span', { class: 'preview' }, preview),
        unread > 0 ? h('span', { class: 'badge', 'data-unread': String(unread), 'aria-label': `${unread} unread` }, String(unread)) : null,
      ),
    );
  }

  open(conversationId: string): void {
    history.replaceState(null, '', `#c=${encodeURIComponent(conversationId)}`);
    this.session.open(conversationId).catch((e: unknown) => this.showProblem(describeError(e)));
  }
}
