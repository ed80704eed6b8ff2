import type { CachedConversation, ConversationListCache } from '@chat/redis';
import type { Logger } from 'pino';

export interface ListPage {
  conversations: CachedConversation[];
  next: { at: string; id: string } | null;
}

export interface ConversationListDeps {
  cache: ConversationListCache;
  /** Every list entry of a user from Postgres (the source), with its row version. */
  loadFromSource(userId: string): Promise<Array<{ version: number; entry: CachedConversation }>>;
  /** The same page straight from Postgres, used when Redis fails. */
  pageFromSource(userId: string, q: { limit: number; before?: { at: string; id: string } }): Promise<ListPage>;
  log: Logger;
}

/**
 * A user's conversation list, served from their hot list in Redis. The first request after a
 * Redis restart (or for a new user) loads it from Postgres; the projector keeps it current
 * after that. Entries carry the version of the Postgres row, so a load racing with the
 * projector never puts an older entry over a newer one. If Redis fails, Postgres answers.
 */
export class ConversationList {
  constructor(private readonly deps: ConversationListDeps) {}

  async page(userId: string, q: { limit: number; before?: { at: string; id: string } }): Promise<ListPage> {
    const { cache } = this.deps;
    try {
      if (!(await cache.isLoaded(userId))) await cache.load(userId, await this.deps.loadFromSource(userId));
      return await cache.page(userId, q);
    } catch (err) {
      this.deps.log.warn({ err, userId }, 'conversation list cache failed; reading Postgres');
      return this.deps.pageFromSource(userId, q);
    }
  }
}
