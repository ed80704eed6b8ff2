import { describe, expect, it } from 'vitest';
import { added, deleted, edited, hidden, left, receipt, rolesChanged, sent, sentWith } from '../testing/events';
import { conversationsChange, conversationsSteps, preview, readMarks, tips, type ConversationsChange } from './evolve';
import { touched } from './projection';

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
      { conversationId: 'g1', userId: 'bob', upToSeq: 3, streamSeq: 2 },
      { conversationId: 'g1', userId: 'eve', upToSeq: 1, streamSeq: 3 },
    ]);
  });

  it('membership changes carry the system message as the last message; mentions skip the sender', () => {
    expect(conversationsChange({ streamSeq: 7, event: added('g1', 4, 'alice', ['dave']) })).toMatchObject({
      kind: 'membership',
      op: 'add',
      userIds: ['dave'],
      lastMessage: { messageId: 'sys-4', seq: 4, senderId: 'alice', preview: 'alice added dave' },
      streamSeq: 7,
    });
    expect(conversationsChange({ streamSeq: 8, event: left('g1', 5, 'bob') })).toMatchObject({ op: 'remove', userIds: ['bob'] });
    expect(conversationsChange({ streamSeq: 9, event: sentWith('g1', 6, 'bob', { mentions: ['bob', 'carol'] }) })).toMatchObject({ mentions: ['carol'] });
    expect(conversationsChange({ streamSeq: 9, event: rolesChanged('g1', 'a', []) })).toBeNull();
    expect(conversationsChange({ streamSeq: 9, event: hidden('g1', 1, 'a') })).toBeNull();
    expect(conversationsChange({ streamSeq: 9, event: edited('g1', 1, 'a', 'new') })).toMatchObject({ kind: 'edit', preview: 'new' });
    expect(conversationsChange({ streamSeq: 9, event: deleted('g1', 1, 'a') })).toMatchObject({ kind: 'delete', seq: 1 });
  });

  it('knows which rows a batch touched, which changed by more than a message or a read, and which were removed', () => {
    const t = touched([
      { streamSeq: 1, event: sent('g1', 1, 'a') },
      { streamSeq: 2, event: receipt('MessagesRead', 'g2', 'bob', 3) },
      { streamSeq: 3, event: left('g3', 2, 'eve') },
      { streamSeq: 4, event: receipt('MessagesDelivered', 'g4', 'bob', 3) },
    ]);
    expect(t).toEqual({
      conversations: ['g1', 'g3'],
      notable: ['g3'],
      reads: [{ userId: 'bob', conversationId: 'g2' }],
      removed: [{ userId: 'eve', conversationId: 'g3', version: 3 }],
    });
  });

  it('writes interleaved sends and reads as one step of each kind; structural changes keep their place', () => {
    const c = (streamSeq: number, event: Parameters<typeof conversationsChange>[0]['event']) => conversationsChange({ streamSeq, event })!;
    const changes: ConversationsChange[] = [
      c(1, sent('g1', 1, 'a')),
      c(2, receipt('MessagesRead', 'g1', 'bob', 1)),
      c(3, sent('g2', 1, 'b')),
      c(4, receipt('MessagesRead', 'g2', 'a', 1)),
      c(5, left('g3', 2, 'eve')),
      c(6, sent('g1', 2, 'a')),
      c(7, receipt('MessagesRead', 'g1', 'bob', 2)),
    ];
    const steps = conversationsSteps(changes);
    expect(steps.map((s) => (s.kind === 'counts' ? `counts:${s.sent.length}+${s.read.length}` : `${s.kind}:${s.items.length}`))).toEqual(['counts:2+2', 'membership:1', 'counts:1+1']);
  });
});
