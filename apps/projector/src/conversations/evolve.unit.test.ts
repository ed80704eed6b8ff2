import { describe, expect, it } from 'vitest';
import { receipt, sent } from '../testing/events';
import { conversationsChange, preview, readMarks, tips, type ConversationsChange } from './evolve';

type Sent = Extract<ConversationsChange, { kind: 'sent' }>;
type Read = Extract<ConversationsChange, { kind: 'read' }>;

describe('conversations evolve', () => {
  it('previews the first 100 characters without splitting a surrogate pair', () => {
    expect(preview('hi')).toBe('hi');
    const long = '😀'.repeat(150);
    expect(Array.from(preview(long))).toHaveLength(100);
    expect(preview('x'.repeat(250))).toHaveLength(100);
  });

  it('keeps the newest message per conversation of a run', () => {
    const changes = [sent('g1', 1, 'a'), sent('g2', 1, 'b'), sent('g1', 2, 'b', { text: 'latest' })].map(
      (event, k) => conversationsChange({ streamSeq: k + 1, event }) as Sent,
    );
    const t = tips(changes);
    expect(t.map((x) => [x.conversationId, x.lastSeq, x.lastMessage.preview, x.lastMessage.senderId])).toEqual([
      ['g1', 2, 'latest', 'b'],
      ['g2', 1, 'message 1 in g2', 'b'],
    ]);
  });

  it('keeps the highest read mark per member of a run; delivered changes nothing', () => {
    expect(conversationsChange({ streamSeq: 1, event: receipt('MessagesDelivered', 'g1', 'bob', 3) })).toBeNull();
    const reads = [receipt('MessagesRead', 'g1', 'bob', 3), receipt('MessagesRead', 'g1', 'bob', 2), receipt('MessagesRead', 'g1', 'eve', 1)].map(
      (event, k) => conversationsChange({ streamSeq: k + 1, event }) as Read,
    );
    expect(readMarks(reads)).toEqual([
      { conversationId: 'g1', userId: 'bob', upToSeq: 3 },
      { conversationId: 'g1', userId: 'eve', upToSeq: 1 },
    ]);
  });
});
