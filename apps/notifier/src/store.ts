import { blockingAmong, type Pool } from '@chat/postgres';

/** A (user, conversation) pair; `key` names it in the sets and maps below. */
export interface UserConversation {
  userId: string;
  conversationId: string;
}

export const pairKey = (p: UserConversation): string => `${p.userId}\u0000${p.conversationId}`;

/**
 * The notifier's SQL: it only reads what the projector writes (mutes, messages, unread counts,
 * checkpoints). Every read takes a whole batch of pushes: one statement, not one per push.
 */
export class NotifierStore {
  constructor(private readonly pool: Pool) {}

  /** Of `pairs`, those whose user muted the conversation now (keys as `pairKey`). */
  async muted(pairs: readonly UserConversation[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const { rows } = await this.pool.query<{ user_id: string; conversation_id: string }>({
      name: 'notifier-muted',
      text: `SELECT m.user_id, m.conversation_id
               FROM notification_mutes m
               JOIN unnest($1::text[], $2::text[]) AS q(user_id, conversation_id) USING (user_id, conversation_id)
              WHERE m.muted AND (m.until IS NULL OR m.until > now())`,
      values: [pairs.map((p) => p.userId), pairs.map((p) => p.conversationId)],
    });
    return new Set(rows.map((r) => pairKey({ userId: r.user_id, conversationId: r.conversation_id })));
  }

  /** Of `userIds`, whom each blocks (user → blocked users); users who block nobody are left out. */
  blocks(userIds: readonly string[]): Promise<Map<string, Set<string>>> {
    return blockingAmong(this.pool, userIds);
  }

  /** The text of each message for a push preview, by `${conversationId} ${seq}` (none once deleted or expired). */
  async messageTexts(messages: ReadonlyArray<{ conversationId: string; seq: number }>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (messages.length === 0) return out;
    const { rows } = await this.pool.query<{ conversation_id: string; seq: number; text: string | null }>({
      name: 'notifier-message-texts',
      text: `SELECT m.conversation_id, m.seq, m.body->>'text' AS text
               FROM messages m
               JOIN unnest($1::text[], $2::int[]) AS q(conversation_id, seq) USING (conversation_id, seq)`,
      values: [messages.map((m) => m.conversationId), messages.map((m) => m.seq)],
    });
    for (const r of rows) if (typeof r.text === 'string') out.set(`${r.conversation_id} ${r.seq}`, r.text);
    return out;
  }

  /**
   * The lowest checkpoint of the named projections (0 until all of them exist): every event
   * at or below it is in their read models.
   */
  async projectionsPosition(names: readonly string[]): Promise<number> {
    const { rows } = await this.pool.query<{ p: string | number }>(
      `SELECT CASE WHEN count(*) = cardinality($1::text[]) THEN min(position) ELSE 0 END AS p
         FROM projection_checkpoints WHERE name = ANY($1::text[])`,
      [names],
    );
    return Number(rows[0]?.p ?? 0);
  }

  /** The badges: each user's total unread count over all their conversations (0 when they have none). */
  async totalUnread(userIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>(userIds.map((u) => [u, 0]));
    if (userIds.length === 0) return out;
    const { rows } = await this.pool.query<{ user_id: string; n: string | number }>({
      name: 'notifier-total-unread',
      text: `SELECT user_id, COALESCE(SUM(unread_count), 0) AS n FROM user_conversations WHERE user_id = ANY($1::text[]) GROUP BY user_id`,
      values: [[...new Set(userIds)]],
    });
    for (const r of rows) out.set(r.user_id, Number(r.n));
    return out;
  }
}
