import type { Redis } from 'ioredis';

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

/** Users per lookup call: bounds how long one call holds Redis (about 1.3 µs per user). */
const LOOKUP_CHUNK = 1024;

/** `HGETALL` of every key, in order, as one reply: a list of flat field/value lists. */
const LOOKUP_LUA = `local out = {}
for i, k in ipairs(KEYS) do out[i] = redis.call('HGETALL', k) end
return out`;

type LookupRedis = Redis & { chatConnLookup(numKeys: number, ...keys: string[]): Promise<string[][]> };

/** The script as an ioredis command: sent once, then run by SHA (EVALSHA). */
function withLookup(redis: Redis): LookupRedis {
  const r = redis as LookupRedis;
  if (typeof r.chatConnLookup !== 'function') redis.defineCommand('chatConnLookup', { lua: LOOKUP_LUA });
  return r;
}

export interface DeviceRoute {
  deviceId: string;
  edgeId: string;
}

export class ConnectionRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Routes a device to an edge. Registrations asked for in one turn of the event loop go to
   * Redis as one pipeline: when thousands of devices connect at once, one write instead of
   * one per device. `sent` is called as soon as the pipeline is written: a command issued then
   * on this client (e.g. announcing the user online) reaches Redis after the route and shares
   * its round trip.
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
    const expires = this.now() + this.ttlMs;
    const ttlSec = Math.ceil(this.ttlMs / 1000);
    const p = this.redis.pipeline();
    for (const d of batch) {
      p.hset(connKey(d.userId), d.deviceId, `${d.edgeId}|${expires}`);
      p.expire(connKey(d.userId), ttlSec);
    }
    p.exec().then(
      (res) =>
        batch.forEach((d, i) => {
          const err = res?.[2 * i]?.[0] ?? res?.[2 * i + 1]?.[0];
          if (err) d.reject(err);
          else d.resolve();
        }),
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
    const expires = now + this.ttlMs;
    const ttlSec = Math.ceil(this.ttlMs / 1000);
    const p = this.redis.pipeline();
    for (const d of devices) {
      p.hget(connKey(d.userId), d.deviceId);
      p.hset(connKey(d.userId), d.deviceId, `${d.edgeId}|${expires}`);
      p.expire(connKey(d.userId), ttlSec);
    }
    const res = (await p.exec()) ?? [];
    const lost: Array<{ userId: string; deviceId: string }> = [];
    devices.forEach((d, i) => {
      const [err, before] = res[i * 3] ?? [];
      if (err) return;
      const [edgeId, exp] = typeof before === 'string' ? before.split('|') : [];
      if (edgeId !== d.edgeId || !(Number(exp) > now)) lost.push({ userId: d.userId, deviceId: d.deviceId });
    });
    return lost;
  }

  /** Removes a device's route, unless another edge has registered it since (it moved). */
  async unregister(userId: string, deviceId: string, edgeId: string): Promise<void> {
    const current = await this.redis.hget(connKey(userId), deviceId);
    if (current && current.split('|')[0] === edgeId) await this.redis.hdel(connKey(userId), deviceId);
  }

  async devices(userId: string): Promise<DeviceRoute[]> {
    return (await this.lookup([userId])).get(userId) ?? [];
  }

  /**
   * Live routes of many users in one round trip: one script call per `LOOKUP_CHUNK` users
   * (their `HGETALL`s run inside Redis), not one command per user. A 1,024-member group's
   * lookup cost the projector about 10 ms of CPU as a pipeline of 1,024 commands and about
   * 2 ms as one call (docs/performance.md, "Group fan-out: one registry call").
   */
  async lookup(userIds: readonly string[]): Promise<Map<string, DeviceRoute[]>> {
    const out = new Map<string, DeviceRoute[]>();
    if (userIds.length === 0) return out;
    const r = withLookup(this.redis);
    const chunks: Array<readonly string[]> = [];
    for (let i = 0; i < userIds.length; i += LOOKUP_CHUNK) chunks.push(userIds.slice(i, i + LOOKUP_CHUNK));
    const replies = await Promise.all(chunks.map((c) => r.chatConnLookup(c.length, ...c.map(connKey))));
    const now = this.now();
    chunks.forEach((chunk, c) => {
      chunk.forEach((u, i) => {
        const flat = replies[c]![i];
        if (!flat?.length) return;
        const routes: DeviceRoute[] = [];
        for (let f = 0; f + 1 < flat.length; f += 2) {
          const [edgeId, exp] = flat[f + 1]!.split('|');
          if (edgeId && Number(exp) > now) routes.push({ deviceId: flat[f]!, edgeId });
        }
        if (routes.length) out.set(u, routes);
      });
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
