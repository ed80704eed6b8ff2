import { ChatError } from '@chat/contracts';
import { directConversationId } from '../ws/session';

export interface BlockSource {
  /** Users who block `userId`. */
  blockedBy(userId: string): Promise<string[]>;
  /** Users `userId` blocks. */
  blocking(userId: string): Promise<string[]>;
}

/** Entries kept at most (a bound on memory; the oldest half goes when full). */
const MAX_ENTRIES = 50_000;

/**
 * Who blocks whom, as the edge checks it: from the read model (`user_blocks`), kept per user for
 * `ttlMs` so a busy sender costs one lookup per `ttlMs`, not one per message. A block therefore
 * takes effect on every edge within `ttlMs` of the projector storing it.
 *
 * A direct conversation's id is a hash of its two members (directConversationId), so "does the
 * other member block the sender?" needs no membership lookup: the ids of the sender's blockers'
 * direct conversations with them are computed and compared.
 */
export class BlockDirectory {
  private readonly cache = new Map<string, { at: number; value: Promise<Set<string>> }>();

  constructor(
    private readonly source: BlockSource,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    /** A block lookup failed (the read model is unreachable): the send goes ahead (metrics, logs). */
    private readonly onLookupFailed: (err: unknown) => void = () => undefined,
  ) {}

  blockedBy(userId: string): Promise<Set<string>> {
    return this.get(`by\u0000${userId}`, () => this.source.blockedBy(userId));
  }

  blocking(userId: string): Promise<Set<string>> {
    return this.get(`of\u0000${userId}`, () => this.source.blocking(userId));
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

  private get(key: string, load: () => Promise<string[]>): Promise<Set<string>> {
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = load().then((ids) => new Set(ids));
    // A failed lookup is not kept: the next call tries again.
    value.catch(() => this.cache.get(key)?.value === value && this.cache.delete(key));
    if (this.cache.size >= MAX_ENTRIES) this.evictOldest();
    this.cache.set(key, { at: now, value });
    return value;
  }

  private evictOldest(): void {
    let n = this.cache.size / 2;
    for (const k of this.cache.keys()) {
      if (n-- <= 0) break;
      this.cache.delete(k);
    }
  }
}

const blockedError = () => new ChatError('forbidden', 'this user does not accept your messages');
