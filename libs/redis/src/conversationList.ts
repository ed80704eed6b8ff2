import type { Redis } from 'ioredis';
import type { ConversationListEntry } from '@chat/contracts';
import { chunks } from './chunks';

/** One conversation-list entry as cached: what the edge's HTTP list returns. */
export type CachedConversation = ConversationListEntry;

export interface VersionedEntry {
  /** CHAT_EVENTS stream sequence of the last event applied to the row (user_conversations.version). */
  version: number;
  entry: CachedConversation;
}

/** How long a user's cached list lives without writes. */
export const CONVERSATION_LIST_TTL_SEC = 7 * 24 * 60 * 60;

/*
 * KEYS: zset, conv hash, unread hash, version hash, loaded flag, floor.
 * ARGV: ttlSec, position, then per entry: id, version, scoreMs, json, unread.
 * Loads a user's whole list read from Postgres at projection position `position`, unless the
 * projector invalidated the list at a later position since (floor): such a read may miss that
 * change, so it is not cached (returns -1).
 */
const LOAD = `
local ttl = tonumber(ARGV[1])
local floor = tonumber(redis.call('GET', KEYS[6]) or '0')
if tonumber(ARGV[2]) < floor then return -1 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
local written = 0
for i = 3, #ARGV, 5 do
  local id = ARGV[i]
  redis.call('ZADD', KEYS[1], tonumber(ARGV[i + 2]), id)
  redis.call('HSET', KEYS[2], id, ARGV[i + 3])
  redis.call('HSET', KEYS[3], id, ARGV[i + 4])
  redis.call('HSET', KEYS[4], id, ARGV[i + 1])
  written = written + 1
end
redis.call('SET', KEYS[5], '1')
for k = 1, 5 do redis.call('EXPIRE', KEYS[k], ttl) end
return written
`;

/*
 * KEYS: zset, conv hash, unread hash, loaded flag.
 * ARGV: max score ('+inf' or the cursor's ms), the cursor's id ('' for none), how many.
 * Nil when the list is not loaded; else entry JSON and unread count ('' if none) per entry,
 * newest first. Entries tied with the cursor's score sort by id descending: those at or above
 * the cursor's id were on earlier pages.
 */
const PAGE = `
if redis.call('EXISTS', KEYS[4]) == 0 then return false end
-- Bytewise a >= b (Lua's own string order follows the server's locale).
local function geq(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a >= #b
end
local want = tonumber(ARGV[3])
local cursorMs = tonumber(ARGV[1])
local cursorId = ARGV[2]
local out = {}
local found = 0
local offset = 0
while found < want do
  local raw = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', offset, want)
  for i = 1, #raw, 2 do
    local id = raw[i]
    if found < want and not (cursorId ~= '' and tonumber(raw[i + 1]) == cursorMs and geq(id, cursorId)) then
      local json = redis.call('HGET', KEYS[2], id)
      if json then
        out[#out + 1] = json
        out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
        found = found + 1
      end
    end
  end
  if #raw < want * 2 then break end
  offset = offset + want
end
return out
`;

/**
 * The per-user conversation list in Redis (the hot path of the conversation-list query).
 *
 * Keys (after the client's own namespace prefix and `keyPrefix`), all hash-tagged by user so
 * they share a cluster slot: zset `convlist:{user}` (score = lastActivityAt in ms), hash
 * `conv:{user}` (id → entry JSON), hash `unread:{user}` (id → unread count), hash
 * `convver:{user}` (id → version, also kept for removed ids as a tombstone) and the flag
 * `convlist-loaded:{user}` (the list holds every conversation of the user), and
 * `convfloor:{user}` (the projection position of the latest change to the list).
 *
 * Cache-aside: an edge that misses the loaded flag reads the user's rows from Postgres with the
 * projection's position in the same snapshot and `load`s them; the projector, after each commit,
 * `invalidate`s the lists its batch changed (raises the floor to the batch's position, drops the
 * keys). A load whose read is older than the floor would bring back what the invalidation
 * removed, so the script refuses it, and that request is answered from Postgres directly.
 */
/*
 * KEYS: the six keys of each user, in `keys()` order. ARGV: position, ttlSec.
 * Per user: raises the floor to the position and drops the list. One call for many users: a
 * message to a 1,024-member group changes 1,024 lists, which were 2,048 commands.
 */
const INVALIDATE = `
for i = 1, #KEYS, 6 do
  redis.call('SET', KEYS[i + 5], ARGV[1], 'EX', ARGV[2])
  redis.call('DEL', KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], KEYS[i + 4])
end
return #KEYS / 6
`;

/** The scripts as ioredis commands: sent once, then run by SHA (EVALSHA), not re-sent per call. */
type ScriptedRedis = Redis & {
  chatConvLoad(...args: Array<string | number>): Promise<number>;
  chatConvPage(...args: Array<string | number>): Promise<string[] | null>;
  chatConvInvalidate(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

function withScripts(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (typeof r.chatConvLoad !== 'function') {
    redis.defineCommand('chatConvLoad', { numberOfKeys: 6, lua: LOAD });
    redis.defineCommand('chatConvPage', { numberOfKeys: 4, lua: PAGE });
    redis.defineCommand('chatConvInvalidate', { lua: INVALIDATE });
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

  private keys(userId: string): [string, string, string, string, string, string] {
    const p = this.keyPrefix;
    const t = `{${userId}}`;
    return [`${p}convlist:${t}`, `${p}conv:${t}`, `${p}unread:${t}`, `${p}convver:${t}`, `${p}convlist-loaded:${t}`, `${p}convfloor:${t}`];
  }

  async isLoaded(userId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys(userId)[4])) === 1;
  }

  /**
   * Caches a user's whole list as read from Postgres at projection position `position` (the
   * checkpoint read in the same snapshot), and marks it loaded. False when the projector changed
   * the list after that position: then nothing is cached (the caller answers from its read).
   */
  async load(userId: string, entries: ReadonlyArray<VersionedEntry>, position: number): Promise<boolean> {
    const args: Array<string | number> = [this.ttlSec, position];
    for (const { version, entry } of entries) {
      const score = Date.parse(entry.lastActivityAt);
      if (!Number.isFinite(score)) throw new Error(`bad lastActivityAt ${entry.lastActivityAt} for ${entry.conversationId}`);
      args.push(entry.conversationId, version, score, JSON.stringify(entry), entry.unreadCount);
    }
    return (await this.redis.chatConvLoad(...this.keys(userId), ...args)) >= 0;
  }

  /**
   * The projector changed these users' lists at projection position `position`: drops them (the
   * next request loads them again) and raises their floor, so a load read before the change
   * cannot bring the old list back. One round trip for all of them.
   */
  async invalidate(userIds: Iterable<string>, position: number): Promise<void> {
    const calls = chunks([...new Set(userIds)]).map((part) => {
      const keys = part.flatMap((u) => this.keys(u));
      return this.redis.chatConvInvalidate(keys.length, ...keys, position, this.ttlSec);
    });
    await Promise.all(calls);
  }

  /**
   * One page of a loaded list, or null when the list is not loaded (never cached, or dropped by
   * the projector): the flag and the page are read in one script, so an invalidation between
   * "is it loaded?" and "read it" cannot answer an empty list. Newest activity first, ties by
   * conversationId descending (the order of the Postgres index `user_conversations_list`, for ids
   * compared bytewise). `before` is the previous page's `next`: entries strictly after it in
   * that order.
   */
  async page(
    userId: string,
    opts: { limit: number; before?: { at: string; id: string } },
  ): Promise<{ conversations: CachedConversation[]; next: { at: string; id: string } | null } | null> {
    const [zset, conv, unread, , loaded] = this.keys(userId);
    const limit = Math.max(1, opts.limit);
    const max = opts.before ? String(Date.parse(opts.before.at)) : '+inf';
    const raw = await this.redis.chatConvPage(zset, conv, unread, loaded, max, opts.before?.id ?? '', limit + 1);
    if (raw === null) return null;
    const all: CachedConversation[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const e = JSON.parse(raw[i]!) as CachedConversation;
      const n = raw[i + 1];
      if (n !== '') e.unreadCount = Number(n);
      all.push(e);
    }
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
    for (const name of ['convlist', 'conv', 'unread', 'convver', 'convlist-loaded', 'convfloor']) {
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
