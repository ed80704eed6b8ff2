import type { Redis } from 'ioredis';

/**
 * The connection registry: which edge each connected device of a user is on.
 *
 * `conn:{<userId>}` is a hash deviceId → "<edgeId>|<expiresAtMs>". Redis 7.0 has no per-field
 * TTL, so each field carries its own expiry (refreshed by the edge's heartbeat) and readers
 * ignore expired fields; the key's own TTL removes users whose devices all went away. The
 * `{userId}` hash tag keeps a user's keys on one Redis Cluster slot.
 */
export const connKey = (userId: string): string => `conn:{${userId}}`;

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

  /** Live routes of many users in one round trip. */
  async lookup(userIds: readonly string[]): Promise<Map<string, DeviceRoute[]>> {
    const out = new Map<string, DeviceRoute[]>();
    if (userIds.length === 0) return out;
    const p = this.redis.pipeline();
    for (const u of userIds) p.hgetall(connKey(u));
    const res = (await p.exec()) ?? [];
    const now = this.now();
    userIds.forEach((u, i) => {
      const [err, hash] = res[i] ?? [];
      if (err || !hash) return;
      const routes: DeviceRoute[] = [];
      for (const [deviceId, value] of Object.entries(hash as Record<string, string>)) {
        const [edgeId, exp] = value.split('|');
        if (edgeId && Number(exp) > now) routes.push({ deviceId, edgeId });
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
