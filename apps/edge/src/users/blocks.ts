import { ChatError } from '@chat/contracts';
import { directConversationId } from '../ws/session';

/** Who blocks whom, read for many users in one statement each (`user_blocks`). */
export interface BlockSource {
  /** Of `userIds`, who blocks each (users nobody blocks may be left out). */
  blockedByAmong(userIds: readonly string[]): Promise<Map<string, Set<string>>>;
  /** Of `userIds`, whom each blocks (users who block nobody may be left out). */
  blockingAmong(userIds: readonly string[]): Promise<Map<string, Set<string>>>;
}

/** Entries kept at most (a bound on memory; the oldest half goes when full). */
const MAX_ENTRIES = 50_000;
/** Users per statement, for loads and refreshes. */
const MAX_BATCH = 1_000;

/** `users` in statements of at most MAX_BATCH. */
function* chunks(users: readonly string[]): Generator<string[]> {
  for (let i = 0; i < users.length; i += MAX_BATCH) yield users.slice(i, i + MAX_BATCH);
}

interface Entry {
  loadedAt: number;
  value: Set<string>;
  /** Asked for since it was loaded: refreshed ahead of its expiry, or dropped at it. */
  used: boolean;
}

/**
 * One direction of the block relation for many users, cached for `ttlMs`:
 * - a user asked for and not cached (or expired) waits for a load, and every such user of the
 *   same event-loop turn is read in ONE statement;
 * - a user asked for since their entry was loaded is refreshed in the background once the entry
 *   is half its ttl old, all of them in one statement per check (every quarter ttl), so a
 *   steady sender never waits and the read model sees a few statements a second, not one per
 *   sender per ttl;
 * - an entry not asked for goes at its expiry.
 * An entry is never served older than `ttlMs`. With `ttlMs` 0 nothing is kept (each turn reads).
 */
class BlockCache {
  private readonly entries = new Map<string, Entry>();
  private pending = new Map<string, Array<{ resolve: (v: Set<string>) => void; reject: (e: unknown) => void }>>();
  private flushScheduled = false;
  private refreshing = false;
  readonly stats = { statements: 0, loaded: 0, refreshed: 0 };

  constructor(
    private readonly load: (userIds: readonly string[]) => Promise<Map<string, Set<string>>>,
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly onRefreshFailed: (err: unknown) => void,
  ) {}

  get(userId: string): Promise<Set<string>> {
    const e = this.entries.get(userId);
    if (e && this.now() - e.loadedAt < this.ttlMs) {
      e.used = true;
      return Promise.resolve(e.value);
    }
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(userId);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(userId, [{ resolve, reject }]);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Loads every user asked for in this turn; a failed statement fails its waiters (and keeps nothing). */
  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    for (const chunk of chunks([...batch.keys()])) {
      try {
        const found = await this.read(chunk);
        for (const u of chunk) for (const w of batch.get(u)!) w.resolve(found.get(u)!);
        this.stats.loaded += chunk.length;
      } catch (err) {
        for (const u of chunk) for (const w of batch.get(u)!) w.reject(err);
      }
    }
  }

  /** One statement for `chunk`; every user of it is stored (nobody blocks or is blocked: empty), as of before the read. */
  private async read(chunk: readonly string[]): Promise<Map<string, Set<string>>> {
    const at = this.now();
    this.stats.statements++;
    const found = await this.load(chunk);
    for (const u of chunk) {
      if (!found.has(u)) found.set(u, new Set());
      this.store(u, { loadedAt: at, value: found.get(u)!, used: false });
    }
    return found;
  }

  /** Refreshes the entries in use that are half their ttl old; drops the expired ones nobody asked for. */
  async refresh(): Promise<void> {
    if (this.refreshing || this.ttlMs <= 0) return;
    this.refreshing = true;
    try {
      const now = this.now();
      const due: string[] = [];
      for (const [u, e] of this.entries) {
        const age = now - e.loadedAt;
        if (e.used && age >= this.ttlMs / 2) due.push(u);
        else if (!e.used && age >= this.ttlMs) this.entries.delete(u);
      }
      for (const chunk of chunks(due)) {
        await this.read(chunk);
        this.stats.refreshed += chunk.length;
      }
    } catch (err) {
      // The entries keep their age: past the ttl a sender waits for a load (and fails open).
      this.onRefreshFailed(err);
    } finally {
      this.refreshing = false;
    }
  }

  private store(userId: string, entry: Entry): void {
    if (this.ttlMs <= 0) return;
    if (!this.entries.has(userId) && this.entries.size >= MAX_ENTRIES) {
      let n = this.entries.size / 2;
      for (const k of this.entries.keys()) {
        if (n-- <= 0) break;
        this.entries.delete(k);
      }
    }
    this.entries.set(userId, entry);
  }
}

/**
 * Who blocks whom, as the edge checks it: from the read model (`user_blocks`), kept per user for
 * at most `ttlMs` (BlockCache), so a block takes effect on every edge within `ttlMs` of the
 * projector storing it, and the edge reads the table a few times a second, not once per sender.
 *
 * A direct conversation's id is a hash of its two members (directConversationId), so "does the
 * other member block the sender?" needs no membership lookup: the ids of the sender's blockers'
 * direct conversations with them are computed and compared.
 */
export class BlockDirectory {
  private readonly by: BlockCache;
  private readonly of: BlockCache;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    source: BlockSource,
    private readonly ttlMs: number,
    now: () => number = Date.now,
    /** A block lookup failed (the read model is unreachable): the send goes ahead (metrics, logs). */
    private readonly onLookupFailed: (err: unknown) => void = () => undefined,
  ) {
    this.by = new BlockCache((u) => source.blockedByAmong(u), ttlMs, now, onLookupFailed);
    this.of = new BlockCache((u) => source.blockingAmong(u), ttlMs, now, onLookupFailed);
  }

  /** Starts the background refresh (every quarter ttl); without it entries are loaded when they expire. */
  start(): this {
    if (this.ttlMs > 0 && !this.timer) {
      this.timer = setInterval(() => void this.refresh(), Math.max(10, this.ttlMs / 4));
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One refresh round of both directions (the timer's; tests call it). */
  async refresh(): Promise<void> {
    await Promise.all([this.by.refresh(), this.of.refresh()]);
  }

  /** Statements read so far, and users loaded on demand and refreshed ahead. */
  get stats(): { statements: number; loaded: number; refreshed: number } {
    const a = this.by.stats;
    const b = this.of.stats;
    return { statements: a.statements + b.statements, loaded: a.loaded + b.loaded, refreshed: a.refreshed + b.refreshed };
  }

  blockedBy(userId: string): Promise<Set<string>> {
    return this.by.get(userId);
  }

  blocking(userId: string): Promise<Set<string>> {
    return this.of.get(userId);
  }

  /** Users on either side of a block with `userId`: they see none of each other's typing. */
  async either(userId: string): Promise<Set<string>> {
    const [by, of] = await Promise.all([this.blockedBy(userId), this.blocking(userId)]);
    return new Set([...by, ...of]);
  }

  /**
   * A sender blocked by the other member of a direct conversation gets `forbidden`. The check
   * fails open: with the read model unreachable (Postgres restarting) the send goes ahead, as
   * every send did before blocks existed — Postgres is not on the send path's critical side.
   */
  async checkSend(senderId: string, conversationId: string): Promise<void> {
    if (!conversationId.startsWith('d-')) return;
    const by = await this.blockersOrNone(senderId);
    for (const blocker of by) if (directConversationId(senderId, blocker) === conversationId) throw blockedError();
  }

  /** Creating a direct conversation with someone who blocks the creator is `forbidden` (failing open like checkSend). */
  async checkCreateDirect(creatorId: string, otherId: string): Promise<void> {
    if ((await this.blockersOrNone(creatorId)).has(otherId)) throw blockedError();
  }

  private async blockersOrNone(userId: string): Promise<Set<string>> {
    try {
      return await this.blockedBy(userId);
    } catch (err) {
      this.onLookupFailed(err);
      return new Set();
    }
  }
}

const blockedError = () => new ChatError('forbidden', 'this user does not accept your messages');
