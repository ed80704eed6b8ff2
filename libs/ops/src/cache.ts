import { names } from '@chat/contracts';
import { createPool, listEntriesAt, listUserIds, type Pool } from '@chat/postgres';
import { ConversationListCache, createRedis, type Redis } from '@chat/redis';

/**
 * Rebuilds the Redis conversation-list cache from Postgres (user_conversations): clears the
 * user's list (or every list of the namespace) and `load`s it again. Safe next to a running
 * projector: a load read before one of its invalidations is refused (and the list loads again
 * on its next request).
 */
export async function rebuildConversationCache(
  deps: { pool: Pool; redis: Redis; checkpointName: string },
  opts: { userId?: string } = {},
): Promise<{ users: number; entries: number }> {
  const cache = new ConversationListCache(deps.redis);
  const users = opts.userId !== undefined ? [opts.userId] : await listUserIds(deps.pool);
  await cache.clear(opts.userId);
  let entries = 0;
  for (const userId of users) {
    const { entries: list, position } = await listEntriesAt(deps.pool, userId, deps.checkpointName);
    if (await cache.load(userId, list, position)) entries += list.length;
  }
  return { users: users.length, entries };
}

/** `chatctl cache rebuild`: connections from the environment (DATABASE_URL, REDIS_URL, CHAT_NS). */
export async function rebuildConversationCacheFromEnv(cfg: { DATABASE_URL: string; REDIS_URL: string; CHAT_NS: string }, opts: { userId?: string } = {}) {
  const pool = createPool(cfg.DATABASE_URL, 2);
  const redis = createRedis(cfg.REDIS_URL, names(cfg.CHAT_NS).redisPrefix);
  try {
    return await rebuildConversationCache({ pool, redis, checkpointName: names(cfg.CHAT_NS).consumers.projConversations }, opts);
  } finally {
    await pool.end();
    await redis.quit();
  }
}

/**
 * Drops every cached conversation list of the namespace: after a rebuild Postgres is the truth,
 * and each list loads again from it on its next request.
 */
export async function clearConversationCache(cfg: { REDIS_URL: string; CHAT_NS: string }): Promise<void> {
  const redis = createRedis(cfg.REDIS_URL, names(cfg.CHAT_NS).redisPrefix);
  try {
    await new ConversationListCache(redis).clear();
  } finally {
    await redis.quit();
  }
}
