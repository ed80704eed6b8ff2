import type { CachedConversation, ConversationListCache } from '@chat/redis';
import type { Logger } from 'pino';

export interface ListPage {
  conversations: CachedConversation[];
  next: { at: string; id: string } | null;
}

export interface ConversationListDeps {
  cache: ConversationListCache;
  /** Every list entry of a user from Postgres (the source), with the projection position it was read at. */
  loadFromSource(userId: string): Promise<{ entries: Array<{ version: number; entry: CachedConversation }>; position: number }>;
  /** The same page straight from Postgres, used when Redis fails. */
  pageFromSource(userId: string, q: { limit: number; before?: { at: string; id: string } }): Promise<ListPage>;
  log: Logger;
}

/**
 * A user's conversation list, served from their list in Redis (cache-aside): a request that
 * finds it missing loads it from Postgres, and the projector drops it when a batch changes it.
 * A load read before a change the projector already invalidated is not cached (that request is
 * answered from Postgres). If Redis fails, Postgres answers.
 */
export class ConversationList {
  constructor(private readonly deps: ConversationListDeps) {}

  async page(userId: string, q: { limit: number; before?: { at: string; id: string } }): Promise<ListPage> {
    return (await this.cached(userId, q)) ?? this.deps.pageFromSource(userId, q);
  }

  /** The page from Redis (loading the list first if it is missing), or null when Postgres must answer. */
  private async cached(userId: string, q: { limit: number; before?: { at: string; id: string } }): Promise<ListPage | null> {
    const { cache } = this.deps;
    try {
      const hit = await cache.page(userId, q);
      if (hit) return hit;
      const { entries, position } = await this.deps.loadFromSource(userId);
      if (!(await cache.load(userId, entries, position))) return null;
      // Null if the projector dropped it again between the load and this read.
      return await cache.page(userId, q);
    } catch (err) {
      this.deps.log.warn({ err, userId }, 'conversation list cache failed; reading Postgres');
      return null;
    }
  }
}
