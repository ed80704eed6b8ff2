import type { Feature, PresenceInfo, ServerFrame } from '@chat/contracts';
import type { PresenceChange, PresenceState } from '@chat/redis';

/** What the watch needs of a connection. */
export interface Watcher {
  readonly userId: string;
  /** Optional frames the connection asked for: with `presence.batch`, one frame per delivery. */
  readonly features: ReadonlySet<Feature>;
  sendRaw(json: string, type: ServerFrame['type']): void;
}

export interface PresenceWatchDeps {
  /** Announcements in Redis (PresenceStore). */
  store: {
    online(userId: string): Promise<PresenceChange | null>;
    offline(userId: string, lastSeenAt: number): Promise<PresenceChange | null>;
    read(userIds: readonly string[]): Promise<PresenceState[]>;
  };
  /** Tells every edge (core NATS, `chat.presence.<userId>`). */
  announce(change: PresenceChange): void;
  /** Of `userIds`, those who share a conversation with `viewerId`. */
  contactsAmong(viewerId: string, userIds: readonly string[]): Promise<Set<string>>;
  /** Users who block `userId` (their presence is not shown to them). */
  blockedBy(userId: string): Promise<Set<string>>;
  /** Of `userIds`, whom each blocks (not shown their presence changes); users who block nobody left out. One query. */
  blockingAmong(userIds: readonly string[]): Promise<Map<string, Set<string>>>;
  /** Of `userIds`, those who show their presence to nobody. One query. */
  hidingAmong(userIds: readonly string[]): Promise<Set<string>>;
  /** How long after a user's last device on this edge left they are announced offline. */
  graceMs: number;
  now(): number;
  onError(err: unknown, what: string): void;
}

/**
 * This edge's side of presence: announces its users' comings and goings, and forwards the
 * announcements of every edge to the connections watching those users.
 *
 * - A user's first device announces `online`; when their last device here leaves, `offline` is
 *   announced after `graceMs` unless a device (here or on another edge) is live by then — a
 *   reconnect inside the grace shows nothing to anyone.
 * - An announcement reaches each edge once (one subscription per edge); the edge serialises the
 *   change once and hands it to the connections watching that user, as one `presence.batch` per
 *   connection and delivery to those that asked for it. Versions order them: an older
 *   announcement heard after a newer one is dropped, and of those heard together only the
 *   newest per user is delivered.
 * - `recheck` settles users announced online whose edge died (no live device on two checks in a
 *   row, the checks further apart than the grace).
 */
export class PresenceWatch {
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly watching = new Map<Watcher, string[]>();
  /** The newest version heard per watched user. */
  private readonly versions = new Map<string, number>();
  private readonly leaving = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  private suspects = new Set<string>();
  /** Announcements heard in this turn, delivered together (one lookup of settings and blocks for all of them). */
  private heardQueue: PresenceChange[] = [];

  constructor(private readonly deps: PresenceWatchDeps) {}

  /** A device of the user registered on this edge. */
  connected(userId: string): void {
    const pending = this.leaving.get(userId);
    if (pending) {
      clearTimeout(pending.timer);
      this.leaving.delete(userId);
    }
    this.deps.store.online(userId).then(
      (change) => change && this.publish(change),
      (err: unknown) => this.deps.onError(err, 'presence online'),
    );
  }

  /**
   * The user's last device on this edge left at `at` (its socket closed; called once its route
   * is gone): offline is announced the grace after `at`.
   */
  left(userId: string, at = this.deps.now()): void {
    if (this.leaving.has(userId)) return;
    const timer = setTimeout(() => void this.announceOffline(userId, at), Math.max(0, at + this.deps.graceMs - this.deps.now()));
    timer.unref();
    this.leaving.set(userId, { timer, at });
  }

  private async announceOffline(userId: string, at: number): Promise<void> {
    this.leaving.delete(userId);
    try {
      const change = await this.deps.store.offline(userId, at);
      if (change) this.publish(change);
    } catch (err) {
      this.deps.onError(err, 'presence offline');
    }
  }

  /** Tells every edge; this edge's own watchers at once (its copy from NATS is then older than what they were shown, and dropped). */
  private publish(change: PresenceChange): void {
    this.deps.announce(change);
    this.heard(change);
  }

  /**
   * Replaces what the connection watches; returns the snapshot of those it may see (users who
   * share a conversation with it).
   */
  async subscribe(w: Watcher, userIds: readonly string[]): Promise<PresenceInfo[]> {
    const allowed = await this.visibleTo(w.userId, [...new Set(userIds)]);
    this.unsubscribe(w);
    if (allowed.length === 0) return [];
    this.watching.set(w, allowed);
    for (const u of allowed) {
      let set = this.watchers.get(u);
      if (!set) this.watchers.set(u, (set = new Set()));
      set.add(w);
    }
    return this.snapshot(allowed);
  }

  /** One user's presence as `viewerId` may see it; null when they share no conversation (or the user blocks the viewer). */
  async view(viewerId: string, userId: string): Promise<PresenceInfo | null> {
    const allowed = await this.visibleTo(viewerId, [userId]);
    return allowed.length ? (await this.snapshot(allowed))[0]! : null;
  }

  /** Of `userIds`, those `viewerId` may see: they share a conversation, and they do not block the viewer. */
  private async visibleTo(viewerId: string, userIds: readonly string[]): Promise<string[]> {
    const [contacts, blockers] = await Promise.all([this.deps.contactsAmong(viewerId, userIds), this.deps.blockedBy(viewerId)]);
    return userIds.filter((u) => contacts.has(u) && !blockers.has(u));
  }

  /** The users' presence now, those who show it to nobody as offline. */
  private async snapshot(userIds: readonly string[]): Promise<PresenceInfo[]> {
    const [states, hiding] = await Promise.all([this.deps.store.read(userIds), this.deps.hidingAmong(userIds)]);
    return states.map((s) => (hiding.has(s.userId) ? hidden(s.userId) : info(s)));
  }

  /** The connection closed (or subscribed again). */
  unsubscribe(w: Watcher): void {
    const users = this.watching.get(w);
    if (!users) return;
    this.watching.delete(w);
    for (const u of users) {
      const set = this.watchers.get(u);
      set?.delete(w);
      if (set?.size === 0) {
        this.watchers.delete(u);
        this.versions.delete(u);
      }
    }
  }

  /**
   * An announcement from any edge: to the connections watching that user, unless the user now
   * shows their presence to nobody, and not to those the user blocks. The announcements heard in
   * one turn are looked up together (two queries), so a storm of them costs a few queries, not
   * two per user; a setting or block made after a subscribe applies here too.
   */
  heard(change: PresenceChange): void {
    if (!this.watchers.has(change.userId)) return;
    this.heardQueue.push(change);
    if (this.heardQueue.length === 1) setImmediate(() => void this.deliverHeard());
  }

  private async deliverHeard(): Promise<void> {
    // Announcements heard together count once per user: the newest, if it is newer than what
    // the watchers were shown (so an edge's own announcements, delivered here at once, cost
    // nothing when NATS brings them back).
    const newest = new Map<string, PresenceChange>();
    for (const c of this.heardQueue) if ((newest.get(c.userId)?.v ?? this.versions.get(c.userId) ?? 0) < c.v) newest.set(c.userId, c);
    this.heardQueue = [];
    if (newest.size === 0) return;
    const users = [...newest.keys()];
    let hiding: Set<string>;
    let blocks: Map<string, Set<string>>;
    try {
      [hiding, blocks] = await Promise.all([this.deps.hidingAmong(users), this.deps.blockingAmong(users)]);
    } catch (err) {
      return this.deps.onError(err, 'presence delivery');
    }
    // Each change is serialised once. A connection with `presence.batch` gets one frame with
    // every change of this delivery it watches; the others one `presence` frame per change.
    const batched = new Map<Watcher, string[]>();
    for (const change of newest.values()) {
      const set = this.watchers.get(change.userId);
      if (!set || hiding.has(change.userId)) continue;
      // Checked again: a delivery that started later may have shown a newer one during the lookups.
      if ((this.versions.get(change.userId) ?? 0) >= change.v) continue;
      this.versions.set(change.userId, change.v);
      const entry = JSON.stringify(info(change));
      let single: string | undefined;
      const blocked = blocks.get(change.userId);
      for (const w of set) {
        if (blocked?.has(w.userId)) continue;
        if (!w.features.has('presence.batch')) w.sendRaw((single ??= `{"type":"presence",${entry.slice(1)}`), 'presence');
        else {
          const entries = batched.get(w);
          if (entries) entries.push(entry);
          else batched.set(w, [entry]);
        }
      }
    }
    for (const [w, entries] of batched) w.sendRaw(`{"type":"presence.batch","users":[${entries.join(',')}]}`, 'presence.batch');
  }

  /** Announces offline for watched users still announced online with no live device since the last recheck. */
  async recheck(): Promise<void> {
    const users = [...this.watchers.keys()];
    const states = users.length ? await this.deps.store.read(users) : [];
    const stale = new Set(states.filter((s) => s.stale).map((s) => s.userId));
    const now = this.deps.now();
    for (const u of stale) {
      if (!this.suspects.has(u) || this.leaving.has(u)) continue;
      const change = await this.deps.store.offline(u, now);
      if (change) this.publish(change);
    }
    this.suspects = stale;
  }

  /** Users watched by this edge's connections (metrics, tests). */
  get watchedUsers(): number {
    return this.watchers.size;
  }

  /** The edge stops: users inside their grace are settled now (those live elsewhere by then stay online). */
  async stop(): Promise<void> {
    const pending = [...this.leaving];
    for (const [, { timer }] of pending) clearTimeout(timer);
    await Promise.all(pending.map(([u, { at }]) => this.announceOffline(u, at)));
  }
}

/** What a user who shows their presence to nobody looks like. */
const hidden = (userId: string): PresenceInfo => ({ userId, online: false, lastSeenAt: null });

function info(s: { userId: string; online: boolean; lastSeenAt: number | null }): PresenceInfo {
  return { userId: s.userId, online: s.online, lastSeenAt: s.lastSeenAt === null ? null : new Date(s.lastSeenAt).toISOString() };
}
