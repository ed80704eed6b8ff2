import { describe, expect, it } from 'vitest';
import { decodeCursor, MessageNewFrame, ConversationUpdatedFrame, type EventOf } from '@chat/contracts';
import { added, created, edited, hidden, left, removed, rolesChanged, sent, sentWith, updated } from '../testing/events';
import { messageRoutes, messagesChanges } from './evolve';

const messagesChange = (e: Parameters<typeof messagesChanges>[0]) => messagesChanges(e)[0] ?? null;

describe('messages evolve', () => {
  it('turns ConversationCreated into a conversation row and one member row per member', () => {
    const c = messagesChange({ streamSeq: 1, event: created('g1', ['alice', 'bob', 'carol']) });
    expect(c?.kind).toBe('conversation');
    if (c?.kind !== 'conversation') return;
    expect(c.conversation).toMatchObject({ id: 'g1', kind: 'group', createdBy: 'alice', title: 'title g1' });
    expect(c.members.map((m) => [m.userId, m.role])).toEqual([
      ['alice', 'owner'],
      ['bob', 'member'],
      ['carol', 'member'],
    ]);
  });

  it('keeps the stream sequence on the message row (the inbox and cursor key)', () => {
    const c = messagesChange({ streamSeq: 42, event: sent('g1', 7, 'bob') });
    expect(c).toMatchObject({ kind: 'message', message: { conversationId: 'g1', seq: 7, streamSeq: 42, senderId: 'bob', replyTo: null } });
  });

  it('ignores receipts', () => {
    const e = { type: 'MessagesRead', v: 1, conversationId: 'g1', userId: 'bob', deviceId: 'd', upToSeq: 1, at: 'x' } as const;
    expect(messagesChange({ streamSeq: 3, event: e })).toBeNull();
  });

  it('routes message.new to members who joined before it, except the sending device', () => {
    const members = new Map([
      ['g1', [
        { userId: 'alice', joinedAfterSeq: 0 },
        { userId: 'bob', joinedAfterSeq: 0 },
        { userId: 'late', joinedAfterSeq: 7 },
      ]],
    ]);
    const [route] = messageRoutes([{ streamSeq: 42, event: sent('g1', 7, 'alice', { device: 'a1' }) }], members);
    expect(route!.users).toEqual(['alice', 'bob']);
    expect(route!.exceptDevice).toEqual({ userId: 'alice', deviceId: 'a1' });
    const frame = MessageNewFrame.parse(route!.frame);
    expect(decodeCursor(frame.cursor)).toBe(42);
    expect(frame.seq).toBe(7);
  });

  it("names a direct conversation's two members on its message.new, so the edges can hand its receipts over", () => {
    const members = new Map([['d1', [{ userId: 'alice', joinedAfterSeq: 0 }, { userId: 'bob', joinedAfterSeq: 0 }]]]);
    const info = (kind: 'direct' | 'group') => new Map([['d1', { kind, title: null, description: null, avatarUrl: null }]]);
    const [direct] = messageRoutes([{ streamSeq: 5, event: sent('d1', 1, 'alice', { device: 'a1' }) }], members, info('direct'));
    expect(direct!.direct).toEqual(['alice', 'bob']);
    const [group] = messageRoutes([{ streamSeq: 5, event: sent('d1', 1, 'alice', { device: 'a1' }) }], members, info('group'));
    expect(group!.direct).toBeUndefined();
  });

  it('routes conversation.updated to the new members', () => {
    const ev = created('g1', ['alice', 'bob']) as EventOf<'ConversationCreated'>;
    const [route] = messageRoutes([{ streamSeq: 1, event: ev }], new Map());
    expect(route!.users).toEqual(['alice', 'bob']);
    expect(route!.exceptDevice).toBeUndefined();
    expect(ConversationUpdatedFrame.parse(route!.frame)).toEqual({
      type: 'conversation.updated',
      conversationId: 'g1',
      kind: 'group',
      title: 'title g1',
      members: ['alice', 'bob'],
      changed: ['created'],
      roles: { alice: 'owner', bob: 'member' },
      by: 'alice',
    });
  });
});

describe('messages evolve: groups', () => {
  it('a join adds members who see from the join on, then a system message for everyone', () => {
    const ch = messagesChanges({ streamSeq: 50, event: added('g1', 4, 'alice', ['dave', 'erin']) });
    expect(ch.map((c) => c.kind)).toEqual(['join', 'message']);
    expect(ch[0]).toMatchObject({ members: [{ userId: 'dave', joinedAfterSeq: 3 }, { userId: 'erin', joinedAfterSeq: 3 }] });
    expect(ch[1]).toMatchObject({
      message: { seq: 4, messageId: 'sys-4', kind: 'system', senderId: 'alice', body: { text: 'alice added dave, erin' }, system: { event: 'members_added', by: 'alice', userIds: ['dave', 'erin'] }, streamSeq: 50 },
    });
  });

  it('a removal or leave drops the member first, then the system message', () => {
    expect(messagesChanges({ streamSeq: 1, event: removed('g1', 5, 'alice', 'bob') }).map((c) => c.kind)).toEqual(['part', 'message']);
    const [, msg] = messagesChanges({ streamSeq: 1, event: left('g1', 6, 'bob') });
    expect(msg).toMatchObject({ message: { body: { text: 'bob left' }, system: { event: 'member_left', by: 'bob', userIds: ['bob'] } } });
  });

  it('edits, deletes and hides become ops on the target seq; mentions and forwards are kept', () => {
    expect(messagesChanges({ streamSeq: 9, event: edited('g1', 2, 'bob', 'fixed') })).toEqual([
      { kind: 'op', op: { op: 'edit', conversationId: 'g1', seq: 2, streamSeq: 9, body: { text: 'fixed' }, at: expect.any(String) } },
    ]);
    expect(messagesChanges({ streamSeq: 9, event: hidden('g1', 2, 'carol') })[0]).toMatchObject({ op: { op: 'hide', userId: 'carol', seq: 2 } });
    const m = messagesChanges({ streamSeq: 3, event: sentWith('g1', 3, 'bob', { mentions: ['alice'], forwarded: { conversationId: 'g2', messageId: 'x' } }) })[0];
    expect(m).toMatchObject({ message: { mentions: ['alice'], forwarded: true, kind: 'text' } });
  });

  it('routes each event to the members at that event: a member removed later in the batch still gets what came before', () => {
    const after = new Map([['g1', [{ userId: 'alice', joinedAfterSeq: 0, role: 'owner' }, { userId: 'dave', joinedAfterSeq: 2, role: 'member' }]]]);
    const batch = [
      { streamSeq: 10, event: sent('g1', 1, 'alice', { device: 'a1' }) },
      { streamSeq: 11, event: removed('g1', 2, 'alice', 'bob') },
      { streamSeq: 12, event: added('g1', 3, 'alice', ['dave']) },
      { streamSeq: 13, event: sent('g1', 4, 'dave') },
      { streamSeq: 14, event: edited('g1', 1, 'alice', 'edit') },
      { streamSeq: 15, event: hidden('g1', 4, 'alice') },
    ];
    const routes = messageRoutes(batch, after, new Map([['g1', { kind: 'group' as const, title: 'T', description: null, avatarUrl: null }]]));
    const summary = routes.map((r) => [r.streamSeq, r.frame.type, [...r.users].sort(), (r.frame as { member?: boolean }).member]);
    expect(summary).toEqual([
      [10, 'message.new', ['alice', 'bob'], undefined],
      [11, 'message.new', ['alice'], undefined],
      [11, 'conversation.updated', ['alice'], true],
      [11, 'conversation.updated', ['bob'], false],
      [12, 'message.new', ['alice', 'dave'], undefined],
      [12, 'conversation.updated', ['alice', 'dave'], true],
      [13, 'message.new', ['alice', 'dave'], undefined],
      // dave joined after seq 1: he never saw it, so no edit.
      [14, 'message.edited', ['alice'], undefined],
      [15, 'message.deleted', ['alice'], undefined],
    ]);
    const sys = MessageNewFrame.parse(routes[1]!.frame);
    expect(sys).toMatchObject({ messageId: 'sys-2', system: { event: 'member_removed', userIds: ['bob'] }, body: { text: 'alice removed bob' } });
    const upd = ConversationUpdatedFrame.parse(routes[3]!.frame);
    expect(upd).toMatchObject({ changed: ['member_removed'], userIds: ['bob'], by: 'alice', members: ['alice'], title: 'T', roles: { alice: 'owner' } });
    expect(routes[8]!.frame).toMatchObject({ scope: 'me' });
  });

  it('role and metadata changes go to every member as conversation.updated', () => {
    const after = new Map([['g1', [{ userId: 'alice', joinedAfterSeq: 0, role: 'admin' }, { userId: 'bob', joinedAfterSeq: 0, role: 'owner' }]]]);
    const routes = messageRoutes(
      [
        { streamSeq: 1, event: rolesChanged('g1', 'alice', [{ userId: 'bob', role: 'owner' }, { userId: 'alice', role: 'admin' }]) },
        { streamSeq: 2, event: updated('g1', 'bob', { title: 'New', avatarUrl: 'https://x/y.png' }) },
      ],
      after,
    );
    expect(routes.map((r) => ConversationUpdatedFrame.parse(r.frame))).toMatchObject([
      { changed: ['role_changed'], roles: { alice: 'admin', bob: 'owner' }, userIds: ['bob', 'alice'], by: 'alice' },
      { changed: ['title', 'avatarUrl'], title: 'New', avatarUrl: 'https://x/y.png', by: 'bob' },
    ]);
    expect(routes[0]!.users).toEqual(['alice', 'bob']);
  });
});
