import type { Redis } from 'ioredis';

/** One conversation-list entry as cached (the same shape the edge's HTTP list returns). */
export interface CachedConversation {
  conversationId: string;
  kind: 'direct' | 'group';
  title: string | null;
  members: string[] | null;
  memberCount: number;
  lastMessage: unknown;
  unreadCount: number;
  mentionCount: number;
  lastActivityAt: string;
  description?: string;
  avatarUrl?: string;
}

export interface VersionedEntry {
  /** CHAT_EVENTS stream sequence of the last event applied to the row (user_conversations.version). */
  version: number;
  entry: CachedConversation;
}

/** How long a user's cached list lives without writes. */
export const CONVERSATION_LIST_TTL_SEC = 7 * 24 * 60 * 60;

/*
 * KEYS: zset, conv hash, unread hash, version hash, loaded flag.
 * ARGV: ttlSec, markLoaded (0|1), then per entry: id, version, scoreMs, json, unread.
 * An entry is written only when its version is above the stored one (a removal's tombstone
 * version counts), so a slow writer can never put an older row over a newer one.
 */
const UPSERT = `
local ttl = tonumber(ARGV[1])
local written = 0
for i = 3, #ARGV, 5 do
  local id = ARGV[i]
  local v = tonumber(ARGV[i + 1])
  local stored = redis.call('HGET', KEYS[4], id)
  if (not stored) or v > tonumber(stored) then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[i + 2]), id)
    redis.call('HSET', KEYS[2], id, ARGV[i + 3])
    redis.call('HSET', KEYS[3], id, ARGV[i + 4])
    redis.call('HSET', KEYS[4], id, ARGV[i + 1])
    written = written + 1
  end
end
if ARGV[2] == '1' then redis.call('SET', KEYS[5], '1') end
for k = 1, 5 do redis.call('EXPIRE', KEYS[k], ttl) end
return written
`;

/* Same KEYS; ARGV: ttlSec, then per item: id, version. Leaves the version as a tombstone. */
const REMOVE = `
local ttl = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local v = tonumber(ARGV[i + 1])
  local stored = redis.call('HGET', KEYS[4], id)
  if (not stored) or v > tonumber(stored) then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('HSET', KEYS[4], id, ARGV[i + 1])
    removed = removed + 1
  end
end
for k = 1, 5 do redis.call('EXPIRE', KEYS[k], ttl) end
return removed
`;

/**
 * The per-user conversation list in Redis (the hot path of the conversation-list query).
 *
 * Keys (after the client's own namespace prefix and `keyPrefix`), all hash-tagged by user so
 * they share a cluster slot: zset `convlist:{user}` (score = lastActivityAt in ms), hash
 * `conv:{user}` (id → entry JSON), hash `unread:{user}` (id → unread count), hash
 * `convver:{user}` (id → version, also kept for removed ids as a tombstone) and the flag
 * `convlist-loaded:{user}` (the list holds every conversation of the user).
 *
 * The projector writes every changed row (upsert/remove, regardless of the flag) with
 * version = the row's version; an edge that misses the flag `load`s the user's rows from
 * Postgres. Both are versioned per entry, so they can race in any order.
 */
/** The scripts as ioredis commands: sent once, then run by SHA (EVALSHA), not re-sent per call. */
type ScriptedRedis = Redis & {
  chatConvUpsert(...args: Array<string | number>): Promise<number>;
  chatConvRemove(...args: Array<string | number>): Promise<number>;
};

function withScripts(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (typeof r.chatConvUpsert !== 'function') {
    redis.defineCommand('chatConvUpsert', { numberOfKeys: 5, lua: UPSERT });
    redis.defineCommand('chatConvRemove', { numberOfKeys: 5, lua: REMOVE });
  }
  return r;
}

export class ConversationListCache {
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly keyPrefix = '',
    private readonly ttlSec = CONVERSATION_LIST_TTL_SEC,
  ) {
    this.redis = withScripts(redis);
  }

  private keys(userId: string): [string, string, string, string, string] {
    const p = this.keyPrefix;
    const t = `{${userId}}`;
    return [`${p}convlist:${t}`, `${p}conv:${t}`, `${p}unread:${t}`, `${p}convver:${t}`, `${p}convlist-loaded:${t}`];
  }

  async upsert(userId: string, entries: ReadonlyArray<VersionedEntry>): Promise<void> {
    if (entries.length === 0) return;
    await this.write(userId, entries, false);
  }

  async remove(userId: string, items: ReadonlyArray<{ conversationId: string; version: number }>): Promise<void> {
    if (items.length === 0) return;
    const args: Array<string | number> = [this.ttlSec];
    for (const i of items) args.push(i.conversationId, i.version);
    await this.redis.chatConvRemove(...this.keys(userId), ...args);
  }

  async isLoaded(userId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys(userId)[4])) === 1;
  }

  /** Versioned upserts of the user's whole list, then marks it loaded (all keys get the TTL). */
  async load(userId: string, entries: ReadonlyArray<VersionedEntry>): Promise<void> {
    await this.write(userId, entries, true);
  }

  private async write(userId: string, entries: ReadonlyArray<VersionedEntry>, markLoaded: boolean): Promise<void> {
    const args: Array<string | number> = [this.ttlSec, markLoaded ? 1 : 0];
    for (const { version, entry } of entries) {
      const score = Date.parse(entry.lastActivityAt);
      if (!Number.isFinite(score)) throw new Error(`bad lastActivityAt ${entry.lastActivityAt} for ${entry.conversationId}`);
      args.push(entry.conversationId, version, score, JSON.stringify(entry), entry.unreadCount);
    }
    await this.redis.chatConvUpsert(...this.keys(userId), ...args);
  }

  /**
   * Newest activity first, ties by conversationId descending (the order of the Postgres
   * index `user_conversations_list`, for ids compared bytewise). `before` is the previous
   * page's `next`: entries strictly after it in that order.
   */
  async page(
    userId: string,
    opts: { limit: number; before?: { at: string; id: string } },
  ): Promise<{ conversations: CachedConversation[]; next: { at: string; id: string } | null }> {
    const [zset, conv, unread] = this.keys(userId);
    const limit = Math.max(1, opts.limit);
    const ids: string[] = [];
    const beforeMs = opts.before ? Date.parse(opts.before.at) : null;
    const beforeId = opts.before?.id;
    let offset = 0;
    const chunk = limit + 1;
    // Score ties with the cursor sort by id: skip those at or above the cursor's id.
    for (;;) {
      const raw = await this.redis.zrevrangebyscore(zset, beforeMs ?? '+inf', '-inf', 'WITHSCORES', 'LIMIT', offset, chunk);
      for (let i = 0; i < raw.length && ids.length < limit + 1; i += 2) {
        const id = raw[i]!;
        const score = Number(raw[i + 1]);
        if (beforeMs !== null && score === beforeMs && beforeId !== undefined && id >= beforeId) continue;
        ids.push(id);
      }
      if (ids.length >= limit + 1 || raw.length < chunk * 2) break;
      offset += chunk;
    }
    if (ids.length === 0) return { conversations: [], next: null };
    const [jsons, counts] = await Promise.all([this.redis.hmget(conv, ...ids), this.redis.hmget(unread, ...ids)]);
    const all: CachedConversation[] = [];
    ids.forEach((id, i) => {
      const j = jsons[i];
      if (!j) return;
      const e = JSON.parse(j) as CachedConversation;
      const n = counts[i];
      if (n !== null && n !== undefined) e.unreadCount = Number(n);
      all.push(e);
    });
    const conversations = all.slice(0, limit);
    const last = conversations[conversations.length - 1];
    return { conversations, next: all.length > limit && last ? { at: last.lastActivityAt, id: last.conversationId } : null };
  }

  async unreadCounts(userId: string): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys(userId)[2]);
    const out: Record<string, number> = {};
    for (const [id, n] of Object.entries(h)) out[id] = Number(n);
    return out;
  }

  /** Drops one user's list, or every user's (under this prefix). */
  async clear(userId?: string): Promise<void> {
    if (userId !== undefined) {
      await this.redis.del(...this.keys(userId));
      return;
    }
    // SCAN patterns are not prefixed by ioredis, DEL keys are: add it to match, strip it to delete.
    const clientPrefix = (this.redis.options.keyPrefix as string | undefined) ?? '';
    const esc = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
    for (const name of ['convlist', 'conv', 'unread', 'convver', 'convlist-loaded']) {
      const pattern = `${esc(clientPrefix + this.keyPrefix)}${name}:{*}`;
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await this.redis.del(...keys.map((k) => k.slice(clientPrefix.length)));
      } while (cursor !== '0');
    }
  }
}
