import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { useTestRedis } from './testRedis';
import { PresenceStore } from './presence';
import { ConnectionRegistry } from './registry';

const [redis] = useTestRedis() as [Redis];

describe('PresenceStore', () => {
  it('announces online once per stretch of connected devices, and offline only when no device is live', async () => {
    const now = 1_000_000;
    const registry = new ConnectionRegistry(redis, 10_000, () => now);
    const presence = new PresenceStore(redis, () => now);

    expect(await presence.read(['ann'])).toEqual([{ userId: 'ann', online: false, lastSeenAt: null, stale: false }]);
    await registry.register('ann', 'phone', 'e1');
    expect(await presence.online('ann')).toEqual({ userId: 'ann', online: true, lastSeenAt: null, v: 1 });
    // A second device (on another edge): nothing new to announce.
    await registry.register('ann', 'laptop', 'e2');
    expect(await presence.online('ann')).toBeNull();

    // The phone leaves; the laptop is still live: no offline.
    await registry.unregister('ann', 'phone', 'e1');
    expect(await presence.offline('ann', now)).toBeNull();
    expect(await presence.read(['ann'])).toEqual([{ userId: 'ann', online: true, lastSeenAt: null, stale: false }]);

    // The laptop leaves too: offline, last seen when it left; a second edge's attempt announces nothing.
    await registry.unregister('ann', 'laptop', 'e2');
    const leftAt = now - 5_000;
    expect(await presence.offline('ann', leftAt)).toEqual({ userId: 'ann', online: false, lastSeenAt: leftAt, v: 2 });
    expect(await presence.offline('ann', now)).toBeNull();
    expect(await presence.read(['ann'])).toEqual([{ userId: 'ann', online: false, lastSeenAt: leftAt, stale: false }]);

    // Back: a newer version, so an edge that hears the two out of order keeps this one.
    await registry.register('ann', 'phone', 'e1');
    expect(await presence.online('ann')).toMatchObject({ online: true, v: 3 });
  });

  it('an edge that died leaves an announced online with no live device: stale, until offline is announced', async () => {
    let now = 2_000_000;
    const registry = new ConnectionRegistry(redis, 10_000, () => now);
    const presence = new PresenceStore(redis, () => now);
    await registry.register('bo', 'phone', 'dead-edge');
    await presence.online('bo');

    now += 11_000; // the dead edge stopped refreshing: its route expired
    expect(await presence.read(['bo'])).toEqual([{ userId: 'bo', online: true, lastSeenAt: null, stale: true }]);
    expect(await presence.offline('bo', now)).toMatchObject({ online: false, lastSeenAt: now });
    expect(await presence.read(['bo'])).toEqual([{ userId: 'bo', online: false, lastSeenAt: now, stale: false }]);
  });
});
