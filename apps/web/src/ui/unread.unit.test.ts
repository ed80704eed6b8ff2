import { describe, expect, it } from 'vitest';
import { unreadCount, type CountedMessage } from './unread';

const msgs = (...list: Array<[number, string, Partial<CountedMessage>?]>) => new Map(list.map(([seq, senderId, extra]) => [seq, { seq, senderId, ...extra }]));

describe('unread badge', () => {
  it("is the list's count plus messages from others that arrived after it", () => {
    const s = { baseUnread: 2, baseSeq: 5, readSeq: null };
    expect(unreadCount(s, new Map(), 'me')).toBe(2);
    // seq 5 was in the count already; 6 and 8 are new from others, 7 is own, 9 a system message.
    expect(unreadCount(s, msgs([5, 'bob'], [6, 'bob'], [7, 'me'], [8, 'carol'], [9, 'bob', { system: {} }]), 'me')).toBe(4);
  });

  it('a read at or past the newest message clears it', () => {
    const held = msgs([5, 'bob'], [6, 'bob']);
    expect(unreadCount({ baseUnread: 2, baseSeq: 5, readSeq: 6 }, held, 'me')).toBe(0);
    expect(unreadCount({ baseUnread: 2, baseSeq: 5, readSeq: 5 }, held, 'me')).toBe(1);
  });

  it('a read short of the count is exact when the messages in between are held, else the count stays', () => {
    const s = { baseUnread: 3, baseSeq: 6, readSeq: 4 };
    expect(unreadCount(s, msgs([5, 'bob'], [6, 'me']), 'me')).toBe(1);
    expect(unreadCount(s, msgs([6, 'bob']), 'me')).toBe(3);
  });

  it('deleted messages do not count', () => {
    expect(unreadCount({ baseUnread: 0, baseSeq: 0, readSeq: null }, msgs([1, 'bob', { deleted: true }], [2, 'bob']), 'me')).toBe(1);
  });
});
