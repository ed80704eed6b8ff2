import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ServerFrame } from '@chat/client';
import { names } from '@chat/contracts';
import { connKey, createRedis, type Redis } from '@chat/redis';
import { eventually, startSystem, type RunningSystem } from '../support/system';
import { harness } from '../support/harness';

/** A short registry TTL: the edge refreshes its routes every second. */
let sys: RunningSystem;
let redis: Redis;
const { u, connect, closeAll } = harness(() => sys);

beforeAll(async () => {
  const env = inject('chatEnv');
  sys = await startSystem(env, { CHAT_REGISTRY_TTL: '3s' });
  redis = createRedis(env['REDIS_URL']!, names(env['CHAT_NS']).redisPrefix);
}, 60_000);

afterAll(async () => {
  closeAll();
  redis?.disconnect();
  await sys?.stop();
});

describe('connection registry', () => {
  it('re-creates a route Redis lost and tells the device to sync (frames may have been routed to nobody)', async () => {
    const carol = await connect(u('carol'), 'phone');
    const frames: ServerFrame[] = [];
    carol.on('frame', (f) => frames.push(f));
    expect(await redis.hexists(connKey(u('carol')), 'phone')).toBe(1);

    await redis.del(connKey(u('carol')));
    const syncRequired = () => frames.findIndex((f) => f.type === 'sync.required');
    // The SDK answers sync.required with a sync, so a sync.batch follows it.
    const answered = () => syncRequired() >= 0 && frames.slice(syncRequired()).some((f) => f.type === 'sync.batch');
    await eventually(async () => answered(), Boolean, 10_000);

    expect(frames[syncRequired()]).toMatchObject({ type: 'sync.required', reason: expect.any(String) });
    expect(answered()).toBe(true);
    expect(await redis.hexists(connKey(u('carol')), 'phone')).toBe(1);
  });
});
