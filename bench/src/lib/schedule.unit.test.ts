import { describe, expect, it } from 'vitest';
import { dueAt, dueSends } from './schedule';

describe('open-loop schedule', () => {
  it('makes send k due at k / rate, not one interval later', () => {
    // 50 msg/s: one send every 20 ms.
    expect(dueSends(0, 50, 500)).toBe(1);
    expect(dueSends(19.9, 50, 500)).toBe(1);
    expect(dueSends(20, 50, 500)).toBe(2);
    expect(dueAt(1, 50)).toBe(20);
    // Every due send's time has passed.
    for (const t of [0, 5, 20, 39, 40, 999]) expect(dueAt(dueSends(t, 50, 500) - 1, 50)).toBeLessThanOrEqual(t);
  });

  it('never exceeds the step total and is 0 before the start', () => {
    expect(dueSends(60_000, 50, 500)).toBe(500);
    expect(dueSends(-1, 50, 500)).toBe(0);
  });
});
