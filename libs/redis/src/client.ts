import { Redis } from 'ioredis';

export type { Redis };

/** keyPrefix carries the namespace (CHAT_NS) so tests and benchmarks never touch live keys. */
export function createRedis(url: string, keyPrefix = ''): Redis {
  return new Redis(url, { keyPrefix, maxRetriesPerRequest: 3, enableAutoPipelining: true, lazyConnect: false });
}
