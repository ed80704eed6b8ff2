import type { Redis } from 'ioredis';
import { chunks } from './chunks';

/**
 * The connection registry: which edge each connected device of a user is on.
 *
 * `conn:{<userId>}` is a hash deviceId → "<edgeId>|<expiresAtMs>". Redis 7.0 has no per-field
 * TTL, so each field carries its own expiry (refreshed by the edge's heartbeat) and readers
 * ignore expired fields; the key's own TTL removes users whose devices all went away. The
 * `{userId}` hash tag keeps a user's keys on one Redis Cluster slot; `lookup` reads many users'
 * keys in one script call, so on a cluster it would have to group them by slot first (the
 * system connects to one Redis, not a cluster).
 */
export const connKey = (userId: string): string => `conn:{${userId}}`;

/** `HGETALL` of every key, in order, as one reply: a list of flat field/value lists. */
const LOOKUP_LUA = `local out = {}
for i, k in ipairs(KEYS) do out[i] = redis.call('HGETALL', k) end
return out`;

/*
 * KEYS: one user's key per device (repeated for a user's devices). ARGV: ttlSec, then per key
 * its deviceId and route value. Writes every route and the key's TTL; with ARGV[2] = '1' it
 * returns each device's route before the write ('' for none: the heartbeat's check).
 */
const WRITE_LUA = `local ttl = ARGV[1]
local before = ARGV[2] == '1'
local out = {}
for i, k in ipairs(KEYS) do
  local device, value = ARGV[2 * i + 1], ARGV[2 * i + 2]
  if before then out[i] = redis.call('HGET', k, device) or '' end
  redis.call('HSET', k, device, value)
  redis.call('EXPIRE', k, ttl)
end
return out`;

/* KEYS: the user's key. ARGV: deviceId, edgeId. Removes the route only while it is still this edge's. */
const UNREGISTER_LUA = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, #ARGV[2] + 1) == ARGV[2] .. '|' then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`;

type RegistryRedis = Redis & {
  chatConnLookup(numKeys: number, ...keys: string[]): Promise<string[][]>;
  chatConnWrite(numKeys: number, ...args: Array<string | number>): Promise<string[]>;
  chatConnUnregister(key: string, deviceId: string, edgeId: string): Promise<number>;
};

/** The scripts as ioredis commands: sent once, then run by SHA (EVALSHA). */
function withScripts(redis: Redis): RegistryRedis {
  const r = redis as RegistryRedis;
  if (typeof r.chatConnLookup !== 'function') {
    redis.defineCommand('chatConnLookup', { lua: LOOKUP_LUA });
    redis.defineCommand('chatConnWrite', { lua: WRITE_LUA });
    redis.defineCommand('chatConnUnregister', { numberOfKeys: 1, lua: UNREGISTER_LUA });
  }
  return r;
}

/** Writes routes in calls of at most `SCRIPT_CHUNK` devices; with `before`, each device's route before the write ('' for none). */
async function writeRoutes(
  redis: RegistryRedis,
  devices: ReadonlyArray<{ userId: string; deviceId: string; edgeId: string }>,
  expires: number,
  ttlSec: number,
  before: boolean,
): Promise<string[]> {
  const calls = chunks(devices).map((part) => {
    const keys: string[] = [];
    const argv: Array<string | number> = [ttlSec, before ? '1' : '0'];
    for (const d of part) {
      keys.push(connKey(d.userId));
      argv.push(d.deviceId, `${d.edgeId}|${expires}`);
    }
    return redis.chatConnWrite(keys.length, ...keys, ...argv);
  });
  return (await Promise.all(calls)).flat();
}

export interface DeviceRoute {
  deviceId: string;
  edgeId: string;
}

export class ConnectionRegistry {
  private readonly redis: RegistryRedis;

  constructor(
    redis: Redis,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.redis = withScripts(redis);
  }

  /**
   * Routes a device to an edge. Registrations asked for in one turn of the event loop go to
   * Redis as one script call: when thousands of devices connect at once, one write instead of
   * one per device. `sent` is called as soon as the call is issued: a command issued then on
   * this client (e.g. announcing the user online) reaches Redis after the route and shares its
   * round trip.
   */
  register(userId: string, deviceId: string, edgeId: string, sent?: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.registrations.push({ userId, deviceId, edgeId, sent, resolve, reject });
      if (this.registrations.length === 1) setImmediate(() => this.flushRegistrations());
    });
  }

  private registrations: Array<{ userId: string; deviceId: string; edgeId: string; sent?: () => void; resolve(): void; reject(err: unknown): void }> = [];

  private flushRegistrations(): void {
    const batch = this.registrations;
    this.registrations = [];
    writeRoutes(this.redis, batch, this.now() + this.ttlMs, Math.ceil(this.ttlMs / 1000), false).then(
      () => batch.forEach((d) => d.resolve()),
      (err: unknown) => batch.forEach((d) => d.reject(err)),
    );
    for (const d of batch) d.sent?.();
  }

  /**
   * Re-registers many devices in one round trip (the edge's heartbeat). Returns the devices
   * whose route was gone or expired before this refresh (Redis lost its data, or refreshes
   * failed for longer than the TTL): frames routed meanwhile did not reach them, so the edge
   * tells them to sync.
   */
  async refresh(devices: Array<{ userId: string; deviceId: string; edgeId: string }>): Promise<Array<{ userId: string; deviceId: string }>> {
    if (devices.length === 0) return [];
    const now = this.now();
    const before = await writeRoutes(this.redis, devices, now + this.ttlMs, Math.ceil(this.ttlMs / 1000), true);
    const lost: Array<{ userId: string; deviceId: string }> = [];
    devices.forEach((d, i) => {
      const [edgeId, exp] = (before[i] ?? '').split('|');
      if (edgeId !== d.edgeId || !(Number(exp) > now)) lost.push({ userId: d.userId, deviceId: d.deviceId });
    });
    return lost;
  }

  /** Removes a device's route, unless another edge has registered it since (it moved): checked and removed in one script. */
  async unregister(userId: string, deviceId: string, edgeId: string): Promise<void> {
    await this.redis.chatConnUnregister(connKey(userId), deviceId, edgeId);
  }

  async devices(userId: string): Promise<DeviceRoute[]> {
    return (await this.lookup([userId])).get(userId) ?? [];
  }

  /**
   * Live routes of many users in one round trip: one script call per `SCRIPT_CHUNK` users
   * (their `HGETALL`s run inside Redis), not one command per user. A 1,024-member group's
   * lookup cost the projector about 10 ms of CPU as a pipeline of 1,024 commands and about
   * 2 ms as one call (docs/performance.md, "Group fan-out: one Redis call for many users").
   */
  async lookup(userIds: readonly string[]): Promise<Map<string, DeviceRoute[]>> {
    const out = new Map<string, DeviceRoute[]>();
    if (userIds.length === 0) return out;
    // The chunks' replies in order: one flat field/value list per user, aligned with `userIds`.
    const replies = (await Promise.all(chunks(userIds).map((c) => this.redis.chatConnLookup(c.length, ...c.map(connKey))))).flat(1);
    const now = this.now();
    userIds.forEach((u, i) => {
      const flat = replies[i];
      if (!flat?.length) return;
      const routes: DeviceRoute[] = [];
      for (let f = 0; f + 1 < flat.length; f += 2) {
        const [edgeId, exp] = flat[f + 1]!.split('|');
        if (edgeId && Number(exp) > now) routes.push({ deviceId: flat[f]!, edgeId });
      }
      if (routes.length) out.set(u, routes);
    });
    return out;
  }

  /** Groups users by the edges their devices are on: one delivery publish per edge. */
  async usersByEdge(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const byEdge = new Map<string, string[]>();
    for (const [userId, routes] of await this.lookup(userIds)) {
      for (const edgeId of new Set(routes.map((r) => r.edgeId))) {
        const list = byEdge.get(edgeId) ?? [];
        list.push(userId);
        byEdge.set(edgeId, list);
      }
    }
    return byEdge;
  }
}
