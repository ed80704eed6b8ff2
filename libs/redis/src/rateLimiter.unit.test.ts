import { describe, expect, it } from 'vitest';
import { LocalTokenBucket } from './rateLimiter';

describe('LocalTokenBucket', () => {
  it('allows a burst, then refills at the rate and says when to retry', () => {
    let now = 0;
    const b = new LocalTokenBucket({ perMinute: 60, burst: 3 }, () => now);
    expect([b.take(), b.take(), b.take()].every((r) => r.allowed)).toBe(true);
    expect(b.take()).toEqual({ allowed: false, retryAfterMs: 1000 });
    now += 500;
    expect(b.take()).toEqual({ allowed: false, retryAfterMs: 500 });
    now += 500;
    expect(b.take().allowed).toBe(true);
    now += 60_000;
    expect([b.take(), b.take(), b.take(), b.take()].map((r) => r.allowed)).toEqual([true, true, true, false]);
  });

  it('a rate of 0 is no limit', () => {
    const b = new LocalTokenBucket({ perMinute: 0, burst: 1 });
    for (let i = 0; i < 1000; i++) expect(b.take().allowed).toBe(true);
  });
});
