import { names } from '@chat/contracts';
import { createPool, listEntries, listUserIds, type Pool } from '@chat/postgres';
import { ConversationListCache, createRedis, type Redis } from '@chat/redis';

/**
 * Rebuilds the Redis conversation-list cache from Postgres (user_conversations): clears the
 * user's list (or every list of the namespace) and `load`s it again, versioned. Safe next to
 * a running projector: its writes are versioned too, so neither side can regress the other.
 */
export async function rebuildConversationCache(deps: { pool: Pool; redis: Redis }, opts: { userId?: string } = {}): Promise<{ users: number; entries: number }> {
  const cache = new ConversationListCache(deps.redis);
  const users = opts.userId !== undefined ? [opts.userId] : await listUserIds(deps.pool);
  await cache.clear(opts.userId);
  let entries = 0;
  for (const userId of users) {
    const list = await listEntries(deps.pool, userId);
    await cache.load(userId, list);
    entries += list.length;
  }
  return { users: users.length, entries };
}

/** `chatctl cache rebuild`: connections from the environment (DATABASE_URL, REDIS_URL, CHAT_NS). */
export async function rebuildConversationCacheFromEnv(cfg: { DATABASE_URL: string; REDIS_URL: string; CHAT_NS: string }, opts: { userId?: string } = {}) {
  const pool = createPool(cfg.DATABASE_URL, 2);
  const redis = createRedis(cfg.REDIS_URL, names(cfg.CHAT_NS).redisPrefix);
  try {
    return await rebuildConversationCache({ pool, redis }, opts);
  } finally {
    await pool.end();
    await redis.quit();
  }
}
