import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRedis } from './client';
import { ConversationListCache, type CachedConversation } from './conversationList';

const redis = createRedis(inject('chatEnv')['REDIS_URL']!, `t${randomBytes(4).toString('hex')}:`);
const cache = new ConversationListCache(redis, 'cl:');
afterAll(async () => {
  await cache.clear();
  redis.disconnect();
});

const entry = (id: string, at: string, over: Partial<CachedConversation> = {}): CachedConversation => ({
  conversationId: id,
  kind: 'group',
  title: `t ${id}`,
  members: ['a', 'b'],
  memberCount: 2,
  lastMessage: null,
  unreadCount: 0,
  mentionCount: 0,
  lastActivityAt: at,
  ...over,
});
/** A page of a list the test loaded (never null). */
const page = async (userId: string, q: Parameters<ConversationListCache['page']>[1]) => {
  const p = await cache.page(userId, q);
  if (!p) throw new Error(`${userId}'s list is not loaded`);
  return p;
};
const T = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();

describe('ConversationListCache', () => {
  it('caches a load unless the list was invalidated after the position it was read at', async () => {
    expect(await cache.load('u1', [{ version: 5, entry: entry('c1', T(1), { title: 'v5', unreadCount: 2 }) }], 10)).toBe(true);
    expect(await cache.isLoaded('u1')).toBe(true);
    expect((await page('u1', { limit: 10 })).conversations).toEqual([entry('c1', T(1), { title: 'v5', unreadCount: 2 })]);
    expect(await cache.unreadCounts('u1')).toEqual({ c1: 2 });
    // The projector changed the list at position 12: dropped, and a read from before 12 is refused.
    await cache.invalidate(['u1', 'u1b'], 12);
    expect(await cache.isLoaded('u1')).toBe(false);
    // Not an empty list: "not loaded", read in the same script as the page.
    expect(await cache.page('u1', { limit: 10 })).toBeNull();
    expect(await cache.load('u1', [{ version: 5, entry: entry('c1', T(1), { title: 'stale' }) }], 11)).toBe(false);
    expect(await cache.isLoaded('u1')).toBe(false);
    // A read at or past it is cached; a load replaces the whole list.
    expect(await cache.load('u1', [{ version: 12, entry: entry('c2', T(2), { title: 'v12' }) }], 12)).toBe(true);
    expect((await page('u1', { limit: 10 })).conversations.map((c) => [c.conversationId, c.title])).toEqual([['c2', 'v12']]);
    expect(await cache.load('u1b', [], 12)).toBe(true);
  });

  it('invalidates many users in calls of at most 1,024: every list dropped, every floor raised with a TTL, others untouched', async () => {
    const users = Array.from({ length: 2_100 }, (_, i) => `inv${i}`);
    await Promise.all([...users, 'bystander'].map((u) => cache.load(u, [{ version: 1, entry: entry('c1', T(1)) }], 20)));
    await cache.invalidate([...users, 'inv0'], 30);
    const loaded = await Promise.all(users.map((u) => cache.isLoaded(u)));
    expect(loaded.filter(Boolean)).toEqual([]);
    expect(await cache.isLoaded('bystander')).toBe(true);
    // The last chunk's floor (users 2,048…2,099) was raised: a read from before 30 is refused.
    expect(await cache.load('inv2099', [], 29)).toBe(false);
    expect(await cache.load('inv0', [], 29)).toBe(false);
    expect(await cache.load('inv1500', [], 30)).toBe(true);
    const ttl = await redis.ttl('cl:convfloor:{inv2099}');
    expect(ttl).toBeGreaterThan(6 * 86_400);
    await cache.invalidate([], 31); // nothing to do
  });

  it('marks a list loaded with a TTL on every key; clear(user) forgets it', async () => {
    expect(await cache.isLoaded('u2')).toBe(false);
    await cache.load('u2', [{ version: 1, entry: entry('c1', T(1)) }], 1);
    expect(await cache.isLoaded('u2')).toBe(true);
    for (const k of ['convlist', 'conv', 'unread', 'convver', 'convlist-loaded']) {
      const ttl = await redis.ttl(`cl:${k}:{u2}`);
      expect(ttl).toBeGreaterThan(6 * 86_400);
    }
    await cache.load('u3', [], 1);
    expect(await cache.isLoaded('u3')).toBe(true);
    await cache.clear('u2');
    expect(await cache.isLoaded('u2')).toBe(false);
    expect(await cache.isLoaded('u3')).toBe(true);
    await cache.clear();
    expect(await cache.isLoaded('u3')).toBe(false);
  });

  it('pages newest first, ties by id descending, with a (at, id) cursor like Postgres', async () => {
    const entries = [
      entry('a', T(1)),
      entry('b', T(5)),
      entry('c', T(5)),
      entry('d', T(5)),
      entry('e', T(3)),
      entry('f', T(9)),
    ].map((e, i) => ({ version: i + 1, entry: e }));
    await cache.load('u4', entries, 6);
    const seen: string[] = [];
    let before: { at: string; id: string } | undefined;
    for (let i = 0; i < 10; i++) {
      const p = await page('u4', { limit: 2, ...(before ? { before } : {}) });
      seen.push(...p.conversations.map((c) => c.conversationId));
      if (!p.next) break;
      before = p.next;
    }
    expect(seen).toEqual(['f', 'd', 'c', 'b', 'e', 'a']);
    const first = await page('u4', { limit: 6 });
    expect(first.next).toBeNull();
    expect((await page('u4', { limit: 5 })).next).toEqual({ at: T(3), id: 'e' });
    expect((await page('u4', { limit: 1, before: { at: T(5), id: 'c' } })).conversations.map((c) => c.conversationId)).toEqual(['b']);
  });

  it('orders tied ids bytewise whatever the Redis server locale (as Postgres compares them with COLLATE "C")', async () => {
    await cache.load('u5', ['B', 'a', 'Z', 'a0'].map((id, i) => ({ version: i + 1, entry: entry(id, T(7)) })), 4);
    const seen: string[] = [];
    let before: { at: string; id: string } | undefined;
    for (let i = 0; i < 10; i++) {
      const p = await page('u5', { limit: 1, ...(before ? { before } : {}) });
      seen.push(...p.conversations.map((c) => c.conversationId));
      if (!p.next) break;
      before = p.next;
    }
    expect(seen).toEqual(['a0', 'a', 'Z', 'B']);
  });
});
