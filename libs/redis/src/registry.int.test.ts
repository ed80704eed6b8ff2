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

describe('ConnectionRegistry.unregister', () => {
  it("removes the edge's own route, not one another edge registered since (the device moved)", async () => {
    const registry = new ConnectionRegistry(redis, 30_000);
    await registry.register('mover', 'phone', 'e1');
    await registry.register('mover', 'tablet', 'e1');
    await registry.register('mover', 'phone', 'e2'); // moved to e2
    await registry.unregister('mover', 'phone', 'e1'); // e1 learns of the old socket's close late
    await registry.unregister('mover', 'tablet', 'e10'); // another edge whose id e1 is a prefix of
    expect(await registry.devices('mover')).toEqual([
      { deviceId: 'phone', edgeId: 'e2' },
      { deviceId: 'tablet', edgeId: 'e1' },
    ]);
    await registry.unregister('mover', 'tablet', 'e1');
    await registry.unregister('nobody', 'phone', 'e1');
    expect(await registry.devices('mover')).toEqual([{ deviceId: 'phone', edgeId: 'e2' }]);
  });
});

describe('ConnectionRegistry.register', () => {
  it('registrations asked for together all land (one pipeline per turn), each with its own route and a key TTL', async () => {
    const registry = new ConnectionRegistry(redis, 30_000);
    const users = Array.from({ length: 1_500 }, (_, i) => `storm${i}`);
    await Promise.all([...users.map((u, i) => registry.register(u, 'd1', `e${i % 3}`)), registry.register('storm0', 'd2', 'e9')]);
    const routes = await registry.lookup(users);
    expect(routes.size).toBe(1_500); // more than one script call's 1,024
    users.forEach((u, i) => expect([u, routes.get(u)?.find((r) => r.deviceId === 'd1')?.edgeId]).toEqual([u, `e${i % 3}`]));
    expect(routes.get('storm0')).toContainEqual({ deviceId: 'd2', edgeId: 'e9' });
    const ttl = await redis.pttl(connKey('storm1499'));
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

describe('ConnectionRegistry.lookup', () => {
  it('reads many users in script calls of at most 1,024: every route, expired fields left out, users without devices absent', async () => {
    let now = 5_000_000;
    const registry = new ConnectionRegistry(redis, 10_000, () => now);
    const users = Array.from({ length: 2_500 }, (_, i) => `many${i}`);
    await Promise.all(users.filter((_, i) => i % 5 !== 0).map((u, i) => registry.register(u, 'phone', `e${i % 4}`)));
    // Under the client's key prefix, as every other command: the script's keys are prefixed too.
    expect(await redis.hget(connKey('many1'), 'phone')).toMatch(/^e\d\|/);
    now += 5_000;
    await registry.register('many1', 'laptop', 'e9'); // expires 5 s after the phone
    now += 6_000; // the phones have expired, the laptop has not
    const afterExpiry = await registry.lookup(users);
    expect([...afterExpiry]).toEqual([['many1', [{ deviceId: 'laptop', edgeId: 'e9' }]]]);

    now -= 6_000;
    const routes = await registry.lookup(users);
    expect(routes.size).toBe(2_000);
    users.forEach((u, i) => expect([u, routes.get(u)?.[0]?.edgeId]).toEqual([u, i % 5 === 0 ? undefined : expect.stringMatching(/^e\d$/)]));
    expect(routes.get('many1')).toEqual(expect.arrayContaining([{ deviceId: 'phone', edgeId: expect.stringMatching(/^e\d$/) }, { deviceId: 'laptop', edgeId: 'e9' }]));
    // The last chunk (users 2,048…2,499) is read too, in order.
    expect(routes.get('many2499')?.[0]?.deviceId).toBe('phone');
    expect(routes.has('many2495')).toBe(false);
  });
});
