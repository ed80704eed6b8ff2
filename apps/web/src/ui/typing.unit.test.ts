import { describe, expect, it } from 'vitest';
import { TYPING_EDGE_INTERVAL_MS, TYPING_RESEND_MS, TYPING_TTL_MS, TypingSender, TypingState, typingText } from './typing';

describe('typing indicator', () => {
  it('shows who is typing until a stop, a message, or 5 s without another start', () => {
    const t = new TypingState();
    t.apply({ conversationId: 'c', userId: 'bob', state: 'start' }, 0);
    t.apply({ conversationId: 'c', userId: 'amy', state: 'start' }, 1_000);
    expect(t.who('c', 1_000)).toEqual(['amy', 'bob']);
    expect(t.who('other', 1_000)).toEqual([]);
    expect(t.nextExpiry(1_000)).toBe(TYPING_TTL_MS);
    expect(t.who('c', TYPING_TTL_MS)).toEqual(['amy']);
    t.apply({ conversationId: 'c', userId: 'amy', state: 'stop' }, 2_000);
    expect(t.who('c', 2_000)).toEqual(['bob']);
    t.stop('c', 'bob');
    expect(t.who('c', 2_000)).toEqual([]);
    expect(t.nextExpiry(2_000)).toBe(null);
  });

  it('reads as a sentence', () => {
    expect(typingText([])).toBe('');
    expect(typingText(['bob'])).toBe('bob is typing…');
    expect(typingText(['amy', 'bob'])).toBe('amy and bob are typing…');
    expect(typingText(['a', 'b', 'c'])).toBe('3 people are typing…');
  });

  it('the composer sends start once per 4 s while typing, and stop when the draft empties or is sent', () => {
    const s = new TypingSender();
    expect(s.input(false, 0)).toBe('start');
    expect(s.input(false, 1_000)).toBe(null);
    expect(s.waitMs(1_000)).toBe(null);
    expect(s.input(false, TYPING_RESEND_MS)).toBe('start');
    expect(s.input(true, 5_000)).toBe('stop');
    expect(s.input(true, 5_100)).toBe(null);
    expect(s.stopped()).toBe(null);
  });

  it('typing again within 3 s of the last start waits until the edge would forward it', () => {
    const s = new TypingSender();
    expect(s.input(false, 0)).toBe('start');
    expect(s.stopped()).toBe('stop'); // sent
    expect(s.input(false, 1_000)).toBe(null);
    expect(s.waitMs(1_000)).toBe(TYPING_EDGE_INTERVAL_MS - 1_000);
    expect(s.input(false, TYPING_EDGE_INTERVAL_MS)).toBe('start');
    expect(s.waitMs(TYPING_EDGE_INTERVAL_MS)).toBe(null);
    // Cleared before any start went out: nothing to stop.
    s.stopped();
    expect(s.input(false, TYPING_EDGE_INTERVAL_MS + 10)).toBe(null);
    expect(s.input(true, TYPING_EDGE_INTERVAL_MS + 20)).toBe(null);
  });
});
