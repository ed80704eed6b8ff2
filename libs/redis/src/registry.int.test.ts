import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { useTestRedis } from './testRedis';
import { ConnectionRegistry, connKey } from './registry';

const [redis] = useTestRedis() as [Redis];

describe('ConnectionRegistry.refresh', () => {
  it('reports the devices whose route was gone or expired, so the edge can tell them to sync', async () => {
    let now = 1_000_000;
    const registry = new ConnectionRegistry(redis, 10_000, () => now);
    const alice = { userId: 'alice', deviceId: 'phone', edgeId: 'e1' };
    const bob = { userId: 'bob', deviceId: 'laptop', edgeId: 'e1' };
    await registry.register(alice.userId, alice.deviceId, alice.edgeId);
    await registry.register(bob.userId, bob.deviceId, bob.edgeId);

    expect(await registry.refresh([alice, bob])).toEqual([]);
    await redis.del(connKey('alice')); // Redis lost it
    expect(await registry.refresh([alice, bob])).toEqual([{ userId: 'alice', deviceId: 'phone' }]);
    expect(await registry.devices('alice')).toEqual([{ deviceId: 'phone', edgeId: 'e1' }]);

    now += 20_000; // refreshes failed for longer than the TTL: routing ignored the stale entries
    expect(await registry.refresh([alice, bob])).toEqual([
      { userId: 'alice', deviceId: 'phone' },
      { userId: 'bob', deviceId: 'laptop' },
    ]);
    expect(await registry.refresh([alice, bob])).toEqual([]);
  });
});

describe('ConnectionRegistry.register', () => {
  it('registrations asked for together all land (one pipeline per turn), each with its own route and a key TTL', async () => {
    const registry = new ConnectionRegistry(redis, 30_000);
    const users = Array.from({ length: 500 }, (_, i) => `storm${i}`);
    await Promise.all([...users.map((u, i) => registry.register(u, 'd1', `e${i % 3}`)), registry.register('storm0', 'd2', 'e9')]);
    const routes = await registry.lookup(users);
    expect(routes.size).toBe(500);
    users.forEach((u, i) => expect([u, routes.get(u)?.find((r) => r.deviceId === 'd1')?.edgeId]).toEqual([u, `e${i % 3}`]));
    expect(routes.get('storm0')).toContainEqual({ deviceId: 'd2', edgeId: 'e9' });
    const ttl = await redis.pttl(connKey('storm499'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
    // A later turn starts a new batch.
    await registry.register('late', 'd1', 'e1');
    expect(await registry.devices('late')).toEqual([{ deviceId: 'd1', edgeId: 'e1' }]);
  });

  it('calls `sent` once the registration is written: a command issued then runs after the route, in the same round trip', async () => {
    const registry = new ConnectionRegistry(redis, 30_000);
    const seen: Array<Promise<string | null>> = [];
    // The command below is issued before the registration's reply: it must still find the route.
    const registered = ['ord0', 'ord1', 'ord2'].map((u) => registry.register(u, 'd1', 'e1', () => seen.push(redis.hget(connKey(u), 'd1'))));
    expect(seen).toHaveLength(0); // written in the turn's batch, not yet
    await Promise.all(registered);
    expect(seen).toHaveLength(3);
    for (const v of await Promise.all(seen)) expect(v).toMatch(/^e1\|\d+$/);
  });
});
