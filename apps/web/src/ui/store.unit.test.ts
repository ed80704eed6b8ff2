import { describe, expect, it } from 'vitest';
import type { ServerFrameOf } from '@chat/client';
import type { ConversationListEntry } from '@chat/contracts';
import { ChatStore } from './store';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
const msg = (conversationId: string, seq: number, senderId: string, text = `m${seq}`): ServerFrameOf<'message.new'> => ({
  type: 'message.new',
  conversationId,
  messageId: `${conversationId}-${seq}`,
  seq,
  senderId,
  body: { text },
  sentAt: at(seq),
  cursor: `k${seq}`,
});
const entry = (conversationId: string, over: Partial<ConversationListEntry> = {}): ConversationListEntry => ({
  conversationId,
  kind: 'direct',
  title: null,
  members: ['me', 'bob'],
  memberCount: 2,
  lastMessage: null,
  unreadCount: 0,
  mentionCount: 0,
  lastActivityAt: at(0),
  ...over,
});

describe('ChatStore', () => {
  it('lists conversations newest first with unread badges from the list and later messages', () => {
    const s = new ChatStore('me');
    s.setList([
      entry('d-old', { lastActivityAt: at(1) }),
      entry('d-new', { lastActivityAt: at(5), unreadCount: 2, lastMessage: { messageId: 'x', seq: 4, senderId: 'bob', preview: 'yo', sentAt: at(5) } }),
    ]);
    expect(s.list().map((c) => c.conversationId)).toEqual(['d-new', 'd-old']);
    expect(s.message(msg('d-old', 1, 'bob'))).toBe('new');
    expect(s.message(msg('d-old', 1, 'bob'))).toBe('duplicate');
    expect(s.list().map((c) => [c.conversationId, s.unread(c), c.lastMessage?.preview])).toEqual([
      ['d-new', 2, 'yo'],
      ['d-old', 1, 'm1'],
    ]);
    // Read on another device: a receipt about this user.
    s.receipt('d-new', { userId: 'me', status: 'read', upToSeq: 4 });
    expect(s.unread(s.conversations.get('d-new')!)).toBe(0);
  });

  it('keeps a conversation known only from a live message until the list has it', () => {
    const s = new ChatStore('me');
    expect(s.message(msg('d-fresh', 1, 'bob'))).toBe('unlisted');
    expect(s.list()).toEqual([]);
    s.setList([]); // the read model does not have it yet
    expect(s.unlisted()).toBe(1);
    s.setList([entry('d-fresh', { unreadCount: 1, lastMessage: { messageId: 'd-fresh-1', seq: 1, senderId: 'bob', preview: 'm1', sentAt: at(1) } })]);
    expect(s.unlisted()).toBe(0);
    expect(s.unread(s.list()[0]!)).toBe(1);
  });

  it('an own send: pending, then stored (✓), delivered (✓✓) and read as receipts arrive', () => {
    const s = new ChatStore('me');
    s.setList([entry('d-1')]);
    const c = s.conversations.get('d-1')!;
    s.history('d-1', { messages: [], hasMore: false });
    s.sendStarted('d-1', 'cm-1', { text: 'hello' }, at(1));
    expect(s.timeline(c).map((m) => s.tick(c, m))).toEqual(['pending']);
    s.sendStored('cm-1', { type: 'message.sent', clientMsgId: 'cm-1', conversationId: 'd-1', messageId: 'd-1-1', seq: 1, sentAt: at(1) });
    const [m] = s.timeline(c);
    expect([m!.seq, m!.body, s.tick(c, m!)]).toEqual([1, { text: 'hello' }, 'sent']);
    s.receipt('d-1', { userId: 'bob', status: 'delivered', upToSeq: 1 });
    expect(s.tick(c, m!)).toBe('delivered');
    s.receipt('d-1', { userId: 'bob', status: 'read', upToSeq: 1 });
    expect(s.tick(c, m!)).toBe('read');
    expect(s.list()[0]!.lastMessage?.preview).toBe('hello');
    expect(s.unread(c)).toBe(0);
  });

  it('a conversation created here is listed at once, with no history to load', () => {
    const s = new ChatStore('me');
    s.setList([]);
    const c = s.created({ type: 'conversation.created', ref: 'r1', conversationId: 'g-new', kind: 'group', members: ['bob', 'carol'] }, 'Trip', at(3));
    expect([c.title, c.members, c.history.loaded, c.shownFrom]).toEqual(['Trip', ['me', 'bob', 'carol'], true, 1]);
    expect(s.list().map((x) => x.conversationId)).toEqual(['g-new']);
    // A list read a moment later may not have it yet: it stays.
    s.setList([]);
    expect(s.list().map((x) => x.conversationId)).toEqual(['g-new']);
    // Once the server listed it, a list without it means this user left or was removed.
    s.setList([entry('g-new', { kind: 'group', title: 'Trip', members: ['me', 'bob', 'carol'] })]);
    s.setList([]);
    expect(s.list()).toEqual([]);
  });

  it('a failed send stays in the view with why', () => {
    const s = new ChatStore('me');
    s.setList([entry('d-1')]);
    s.history('d-1', { messages: [], hasMore: false });
    s.sendStarted('d-1', 'cm-1', { text: 'hello' }, at(1));
    s.sendFailed('d-1', 'cm-1', 'blocked (forbidden)');
    const c = s.conversations.get('d-1')!;
    expect(s.timeline(c).map((m) => [m.failed, s.tick(c, m)])).toEqual([['blocked (forbidden)', 'failed']]);
  });

  it('shows history from the oldest page loaded, whatever else arrived live', () => {
    const s = new ChatStore('me');
    s.setList([entry('d-1')]);
    const c = s.conversations.get('d-1')!;
    for (let seq = 1; seq <= 5; seq++) s.message(msg('d-1', seq, 'bob'));
    expect(s.timeline(c)).toEqual([]); // not opened yet
    s.history('d-1', { messages: [msg('d-1', 4, 'bob'), msg('d-1', 5, 'bob')], hasMore: true });
    expect(s.timeline(c).map((m) => m.seq)).toEqual([4, 5]);
    s.message(msg('d-1', 6, 'bob'));
    expect(s.timeline(c).map((m) => m.seq)).toEqual([4, 5, 6]);
    s.history('d-1', { messages: [1, 2, 3].map((seq) => msg('d-1', seq, 'bob')), hasMore: false });
    expect(s.timeline(c).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.history).toEqual({ loaded: true, hasMore: false, loading: false });
  });

  it('edits, deletes, membership and activity frames', () => {
    const s = new ChatStore('me');
    s.setList([entry('g-1', { kind: 'group', title: 'Team', members: ['me', 'bob'] })]);
    s.history('g-1', { messages: [msg('g-1', 1, 'bob'), msg('g-1', 2, 'bob')], hasMore: false });
    s.edited({ type: 'message.edited', conversationId: 'g-1', messageId: 'g-1-1', seq: 1, body: { text: 'fixed' }, editedAt: at(9) });
    s.deleted({ type: 'message.deleted', conversationId: 'g-1', messageId: 'g-1-2', seq: 2, scope: 'everyone', deletedAt: at(9) });
    const c = s.conversations.get('g-1')!;
    expect(s.timeline(c).map((m) => [m.body, m.editedAt ?? null, m.deleted ?? false])).toEqual([
      [{ text: 'fixed' }, at(9), false],
      [null, null, true],
    ]);
    s.updated({ type: 'conversation.updated', conversationId: 'g-1', kind: 'group', title: 'Team 2', members: ['me', 'bob', 'carol'], changed: ['members_added'] });
    expect([c.title, s.others(c)]).toEqual(['Team 2', ['bob', 'carol']]);
    const last = { messageId: 'g-1-2', seq: 2, senderId: 'bob', preview: 'This message was deleted', sentAt: at(2) };
    expect(s.activity({ type: 'conversation.activity', conversationId: 'g-1', lastActivityAt: at(20), lastMessage: last, unreadCount: 7 })).toBe(true);
    expect(s.unread(c)).toBe(7);
    expect(s.activity({ type: 'conversation.activity', conversationId: 'g-unknown', lastActivityAt: at(20), lastMessage: null, unreadCount: 1 })).toBe(false);
    s.updated({ type: 'conversation.updated', conversationId: 'g-1', kind: 'group', members: ['bob', 'carol'], changed: ['member_removed'], member: false });
    expect(s.list()).toEqual([]);
  });
});
