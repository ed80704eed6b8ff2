import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from './client';
import { SharedRateLimiter } from './rateLimiter';
import { useTestRedis } from './testRedis';

// Two clients on one prefix: two edges sharing the limits.
const [redis, other] = useTestRedis(2) as [Redis, Redis];

describe('SharedRateLimiter', () => {
  it('one bucket per user, shared by every edge, under ratelimit:<name>:{user} in the namespace', async () => {
    const spec = { perMinute: 60, burst: 5 };
    const a = new SharedRateLimiter(redis, 'send', spec);
    const b = new SharedRateLimiter(other, 'send', spec);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).take('alice')));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    const refused = results.filter((r) => !r.allowed);
    expect(refused).toHaveLength(3);
    for (const r of refused) expect(r.retryAfterMs).toBeGreaterThan(0);
    for (const r of refused) expect(r.retryAfterMs).toBeLessThanOrEqual(1000);
    // Another user has a bucket of their own.
    expect((await a.take('bob')).allowed).toBe(true);
    expect(await redis.exists('ratelimit:send:{alice}')).toBe(1);
    const ttl = await redis.pttl('ratelimit:send:{alice}');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(6_000);
  });

  it('refills over time', async () => {
    const l = new SharedRateLimiter(redis, 'fast', { perMinute: 60_000, burst: 2 }); // 1 per ms
    expect((await l.take('u')).allowed).toBe(true);
    expect((await l.take('u')).allowed).toBe(true);
    // The bucket refills by the clock (Redis TIME): this sleep lets it refill, by design.
    await new Promise((r) => setTimeout(r, 20));
    expect((await l.take('u')).allowed).toBe(true);
  });

  it('fails open onto a local bucket with the same spec when Redis is unreachable', async () => {
    const dead = createRedis('redis://127.0.0.1:1', 'unreachable:');
    dead.on('error', () => undefined);
    let fallbacks = 0;
    const l = new SharedRateLimiter(dead, 'send', { perMinute: 60, burst: 3 }, { timeoutMs: 100, onFallback: () => fallbacks++ });
    const started = Date.now();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await l.take('alice'));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(fallbacks).toBe(4);
    expect(Date.now() - started).toBeLessThan(2_000);
    dead.disconnect();
  });
});
