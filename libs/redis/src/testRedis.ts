/* A Redis client under a key prefix of its own, for this library's integration tests (not exported from the library). */
import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from './client';

/** Clients on the run's Redis under one fresh prefix; every key under it is deleted after the file's tests. */
export function useTestRedis(clients = 1): Redis[] {
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const url = inject('chatEnv')['REDIS_URL']!;
  const out = Array.from({ length: clients }, () => createRedis(url, prefix));
  afterAll(async () => {
    const keys = await out[0]!.keys(`${prefix}*`);
    if (keys.length) await out[0]!.del(...keys.map((k) => k.slice(prefix.length)));
    for (const r of out) r.disconnect();
  });
  return out;
}
