import type { ChatEvent, ConversationKind } from '@chat/contracts';
import type { PoolClient, Pool } from '@chat/postgres';
import type { ConversationInfo, RouteMember } from '../messages/evolve';

/** A conversation as live routing needs it: kind, metadata and members (with their join points and roles). */
export interface ConversationView extends ConversationInfo {
  members: Map<string, RouteMember>;
  /** The batch that last used it (eviction spares the batches that may not have committed yet). */
  batch?: number;
}

type Queryable = Pool | PoolClient;

/**
 * The members of conversations, in memory, as of the projector's position: loaded from the
 * read model on first use (it holds exactly the state at the checkpoint: the projector is its
 * only writer and loads between batches) and then folded forward from the events themselves,
 * so live routing never waits for a Postgres commit.
 *
 * Bounded by the number of member entries it holds (`maxMembers`): the least recently used
 * conversations go first. `forget` drops conversations whose folded state did not commit.
 */
export class MembershipCache {
  private readonly views = new Map<string, ConversationView>();
  private size = 0;
  private batch = 0;

  constructor(private readonly maxMembers: number) {}

  get(conversationId: string): ConversationView | undefined {
    return this.views.get(conversationId);
  }

  /** Member entries held (for metrics and tests). */
  get memberEntries(): number {
    return this.size;
  }

  /** Starts the next batch: views used from here on are spared by eviction for two batches. */
  nextBatch(): void {
    this.batch++;
  }

  /** Loads the conversations not held yet; ones the read model does not know stay absent. */
  async ensure(q: Queryable, conversationIds: Iterable<string>): Promise<void> {
    const missing: string[] = [];
    for (const id of new Set(conversationIds)) {
      const v = this.views.get(id);
      if (v) {
        // Most recently used last.
        this.views.delete(id);
        this.views.set(id, v);
        v.batch = this.batch + 1;
      } else missing.push(id);
    }
    if (missing.length === 0) return;
    const [convs, members] = await Promise.all([
      q.query<{ id: string; kind: ConversationKind; title: string | null; description: string | null; avatar_url: string | null }>(
        'SELECT id, kind, title, description, avatar_url FROM conversations WHERE id = ANY($1::text[])',
        [missing],
      ),
      q.query<{ conversation_id: string; user_id: string; joined_after_seq: number; role: string }>(
        'SELECT conversation_id, user_id, joined_after_seq, role FROM conversation_members WHERE conversation_id = ANY($1::text[])',
        [missing],
      ),
    ]);
    for (const c of convs.rows) {
      this.put(c.id, { kind: c.kind, title: c.title, description: c.description, avatarUrl: c.avatar_url, members: new Map(), batch: this.batch + 1 });
    }
    for (const m of members.rows) {
      const v = this.views.get(m.conversation_id);
      if (v && !v.members.has(m.user_id)) {
        v.members.set(m.user_id, { userId: m.user_id, joinedAfterSeq: m.joined_after_seq, role: m.role });
        this.size++;
      }
    }
    this.evict();
  }

  /** Folds one event into the view of its conversation (membership, roles, metadata). */
  apply(e: ChatEvent): void {
    const v = this.views.get(e.conversationId);
    switch (e.type) {
      case 'ConversationCreated':
        // A direct conversation created again is the same conversation: the first one stays.
        if (v) return;
        this.put(e.conversationId, {
          kind: e.kind,
          title: e.title ?? null,
          description: e.description ?? null,
          avatarUrl: e.avatarUrl ?? null,
          members: new Map(e.members.map((m) => [m.userId, { userId: m.userId, joinedAfterSeq: 0, role: m.role }])),
          batch: this.batch,
        });
        return;
      case 'MembersAdded':
        if (!v) return;
        for (const m of e.members) {
          if (!v.members.has(m.userId)) this.size++;
          v.members.set(m.userId, { userId: m.userId, joinedAfterSeq: e.seq - 1, role: m.role });
        }
        return;
      case 'MemberRemoved':
      case 'MemberLeft':
        if (v?.members.delete(e.userId)) this.size--;
        return;
      case 'RolesChanged':
        if (!v) return;
        for (const c of e.changes) {
          const m = v.members.get(c.userId);
          if (m) v.members.set(c.userId, { ...m, role: c.role });
        }
        return;
      case 'ConversationUpdated':
        if (!v) return;
        if (e.title !== undefined) v.title = e.title;
        if (e.description !== undefined) v.description = e.description;
        if (e.avatarUrl !== undefined) v.avatarUrl = e.avatarUrl;
        return;
      default:
        return;
    }
  }

  /** Drops conversations (their folded state may be ahead of what committed). */
  forget(conversationIds: Iterable<string>): void {
    for (const id of conversationIds) {
      const v = this.views.get(id);
      if (!v) continue;
      this.size -= v.members.size;
      this.views.delete(id);
    }
  }

  clear(): void {
    this.views.clear();
    this.size = 0;
  }

  private put(id: string, v: ConversationView): void {
    this.forget([id]);
    this.views.set(id, v);
    this.size += v.members.size;
  }

  /**
   * Least recently used first, never a view of the last two batches: their folded state may
   * not be committed yet, so the read model could not give it back.
   */
  private evict(): void {
    for (const [id, v] of this.views) {
      if (this.size <= this.maxMembers || (v.batch ?? 0) >= this.batch - 1) break;
      this.size -= v.members.size;
      this.views.delete(id);
    }
  }
}
