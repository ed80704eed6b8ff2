import type { Redis } from 'ioredis';
import { connKey } from './registry';

/**
 * Presence: whether a user is online (any device connected, as the connection registry says)
 * and when their last device went away.
 *
 * `presence:{<userId>}` is a hash: `state` ("online" | "offline") as last announced, `lastSeen`
 * (ms) and `v`, a version that grows with every announced change, so edges that hear two changes
 * out of order keep the newer. Both scripts run in Redis next to the user's registry hash (the
 * same `{userId}` slot), so "is any device still live?" and "announce offline" are one step:
 * a device registering on another edge at the same moment either is seen (nothing announced)
 * or announces `online` itself with a higher version.
 */
export const presenceKey = (userId: string): string => `presence:{${userId}}`;

/** A change to announce, with its version; null when there is nothing to announce. */
export interface PresenceChange {
  userId: string;
  online: boolean;
  /** ms since the epoch; null while online. */
  lastSeenAt: number | null;
  v: number;
}

export interface PresenceState {
  userId: string;
  /** As last announced (so a user inside the grace after their last device left still shows online). */
  online: boolean;
  lastSeenAt: number | null;
  /**
   * Announced online with no live device: inside the grace after a clean leave, or an edge died
   * and its routes expired without anyone announcing offline (the edges' recheck settles it).
   */
  stale: boolean;
}

/** Last seen is kept this long after the last change (then the user shows offline, last seen unknown). */
const KEEP_MS = 400 * 86_400_000;

// KEYS[1] presence hash; ARGV[1] keep ms. Returns the new version, or 0 if already online.
const ONLINE = `
if redis.call('HGET', KEYS[1], 'state') == 'online' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'online')
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return v`;

// KEYS[1] registry hash, KEYS[2] presence hash; ARGV[1] now ms, ARGV[2] last seen ms, ARGV[3]
// keep ms. Returns the new version, or 0 if a device is still live or offline was announced.
const OFFLINE = `
local routes = redis.call('HVALS', KEYS[1])
local now = tonumber(ARGV[1])
for _, route in ipairs(routes) do
  local exp = tonumber(string.match(route, '|(%d+)$'))
  if exp and exp > now then return 0 end
end
if redis.call('HGET', KEYS[2], 'state') == 'offline' then return 0 end
redis.call('HSET', KEYS[2], 'state', 'offline', 'lastSeen', ARGV[2])
local v = redis.call('HINCRBY', KEYS[2], 'v', 1)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return v`;

type ScriptedRedis = Redis & {
  chatPresenceOnline(key: string, keepMs: number): Promise<number>;
  chatPresenceOffline(conn: string, presence: string, now: number, lastSeen: number, keepMs: number): Promise<number>;
};

export class PresenceStore {
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly now: () => number = Date.now,
  ) {
    const r = redis as ScriptedRedis;
    if (typeof r.chatPresenceOnline !== 'function') redis.defineCommand('chatPresenceOnline', { numberOfKeys: 1, lua: ONLINE });
    if (typeof r.chatPresenceOffline !== 'function') redis.defineCommand('chatPresenceOffline', { numberOfKeys: 2, lua: OFFLINE });
    this.redis = r;
  }

  /** A device of the user registered: online, unless that was announced already. */
  async online(userId: string): Promise<PresenceChange | null> {
    const v = await this.redis.chatPresenceOnline(presenceKey(userId), KEEP_MS);
    return v > 0 ? { userId, online: true, lastSeenAt: null, v } : null;
  }

  /**
   * The user's devices may all be gone (`lastSeenAt`: when the last one left): offline, unless a
   * device is still live in the registry or offline was announced already.
   */
  async offline(userId: string, lastSeenAt: number): Promise<PresenceChange | null> {
    const v = await this.redis.chatPresenceOffline(connKey(userId), presenceKey(userId), this.now(), lastSeenAt, KEEP_MS);
    return v > 0 ? { userId, online: false, lastSeenAt, v } : null;
  }

  /** Presence of many users in one round trip, as announced; `stale` from the registry's live routes. */
  async read(userIds: readonly string[]): Promise<PresenceState[]> {
    if (userIds.length === 0) return [];
    const p = this.redis.pipeline();
    for (const u of userIds) {
      p.hvals(connKey(u));
      p.hmget(presenceKey(u), 'state', 'lastSeen');
    }
    const res = (await p.exec()) ?? [];
    const now = this.now();
    return userIds.map((userId, i) => {
      const [e1, routes] = res[2 * i] ?? [];
      const [e2, fields] = res[2 * i + 1] ?? [];
      if (e1) throw e1;
      if (e2) throw e2;
      const live = (routes as string[]).some((r) => Number(r.slice(r.lastIndexOf('|') + 1)) > now);
      const [state, lastSeen] = fields as [string | null, string | null];
      const online = live || state === 'online';
      return { userId, online, lastSeenAt: online || lastSeen === null ? null : Number(lastSeen), stale: !live && state === 'online' };
    });
  }
}
