import type { Session } from './session';

/** This edge's open sessions, by user then device. */
export class Hub {
  private readonly byUser = new Map<string, Map<string, Session>>();

  /** Adds a session; returns the one it replaces (same user and device), if any. */
  add(s: Session): Session | undefined {
    let devices = this.byUser.get(s.userId);
    if (!devices) this.byUser.set(s.userId, (devices = new Map()));
    const previous = devices.get(s.deviceId);
    devices.set(s.deviceId, s);
    return previous;
  }

  /** Removes the session if it is still the current one for its device. */
  remove(s: Session): boolean {
    const devices = this.byUser.get(s.userId);
    if (devices?.get(s.deviceId) !== s) return false;
    devices.delete(s.deviceId);
    if (devices.size === 0) this.byUser.delete(s.userId);
    return true;
  }

  devicesOf(userId: string): Iterable<Session> {
    return this.byUser.get(userId)?.values() ?? [];
  }

  all(): Session[] {
    return [...this.byUser.values()].flatMap((d) => [...d.values()]);
  }

  get size(): number {
    let n = 0;
    for (const d of this.byUser.values()) n += d.size;
    return n;
  }
}
