import { describe, expect, it } from 'vitest';
import { decodeCursor, MessageNewFrame, ConversationUpdatedFrame, type EventOf } from '@chat/contracts';
import { created, sent } from '../testing/events';
import { messageRoutes, messagesChange } from './evolve';

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
    });
  });
});
