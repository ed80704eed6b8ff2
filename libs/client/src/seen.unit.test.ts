import { describe, expect, it } from 'vitest';
import { SeenMessages } from './seen';

const at = (conversationId: string, seq: number) => ({ conversationId, seq });

describe('SeenMessages', () => {
  it('records each (conversationId, seq) once', () => {
    const s = new SeenMessages();
    expect(s.markSeen('a', 1)).toBe(true);
    expect(s.markSeen('a', 1)).toBe(false);
    expect(s.markSeen('b', 1)).toBe(true);
  });

  it('finds a hole between the contiguous run and a live message', () => {
    const s = new SeenMessages();
    s.markSeen('a', 1);
    expect(s.isAfterGap(at('a', 2))).toBe(false);
    expect(s.isAfterGap(at('a', 3))).toBe(true);
    s.markSeen('a', 2);
    expect(s.isAfterGap(at('a', 3))).toBe(false);
  });

  it('a run starts at the first message received, not at seq 1', () => {
    const s = new SeenMessages();
    s.markSeen('a', 5);
    expect(s.isAfterGap(at('a', 6))).toBe(false);
    expect(s.isAfterGap(at('a', 5))).toBe(false); // seen already: a duplicate, not a gap
  });

  it('in a conversation seen nothing of, only seq 1 has no hole before it', () => {
    const s = new SeenMessages();
    expect(s.isAfterGap(at('a', 1))).toBe(false);
    expect(s.isAfterGap(at('b', 3))).toBe(true);
  });

  it('a hole tried once is real the second time: the run goes on from there', () => {
    const s = new SeenMessages();
    s.markSeen('a', 1);
    expect(s.isAfterGap(at('a', 7))).toBe(true);
    expect(s.isAfterGap(at('a', 7))).toBe(false);
    s.markSeen('a', 7);
    expect(s.isAfterGap(at('a', 8))).toBe(false);
  });

  it('an own send past a hole does not bridge it; one at seq 1 starts the run', () => {
    const s = new SeenMessages();
    s.markSeen('a', 1);
    s.markSeen('a', 3, true);
    expect(s.isAfterGap(at('a', 4))).toBe(true);
    expect(s.markSeen('a', 3)).toBe(false); // still de-duplicated

    s.markSeen('b', 1, true);
    expect(s.isAfterGap(at('b', 2))).toBe(false);
  });
});

describe('SeenMessages memory', () => {
  it('remembers at most twice the window per conversation; older seqs count as seen', () => {
    const s = new SeenMessages(100);
    for (let seq = 1; seq <= 10_000; seq++) expect(s.markSeen('a', seq)).toBe(true);
    expect(s.remembered('a')).toBeLessThanOrEqual(200);
    expect(s.remembered('a')).toBeGreaterThanOrEqual(100);
    expect(s.markSeen('a', 10_000)).toBe(false); // inside the window
    expect(s.markSeen('a', 5)).toBe(false); // slid out: counts as seen
    expect(s.isAfterGap(at('a', 10_001))).toBe(false);
    expect(s.isAfterGap(at('a', 10_003))).toBe(true);
  });

  it('keeps the newest seqs when they arrive out of order, and the run continues past the window', () => {
    const s = new SeenMessages(4);
    // 1..20 with 10 missing, then 10 arrives late: still inside the window of the newest.
    for (let seq = 1; seq <= 12; seq++) if (seq !== 10) s.markSeen('a', seq);
    expect(s.markSeen('a', 10)).toBe(true);
    expect(s.isAfterGap(at('a', 13))).toBe(false);
    for (let seq = 13; seq <= 40; seq++) s.markSeen('a', seq);
    expect(s.remembered('a')).toBeLessThanOrEqual(8);
    expect(s.isAfterGap(at('a', 41))).toBe(false);
  });

  it('refuses a window that is not a positive integer', () => {
    expect(() => new SeenMessages(0)).toThrow('seen window must be a positive integer');
  });
});
