import type pg from 'pg';
import type { CachedConversation } from '@chat/redis';
import type { ConversationKind, LastMessage } from '@chat/contracts';

/** The conversation list names every member up to this many; bigger groups give `memberCount` only. */
export const LIST_MEMBERS_MAX = 64;

type Queryable = pg.Pool | pg.PoolClient;

export interface UserConversationRow {
  user_id: string;
  conversation_id: string;
  kind: ConversationKind;
  title: string | null;
  /**
   * The members, for conversations of at most LIST_MEMBERS_MAX; null for bigger groups (the
   * list never shows them, so they are neither stored per row nor read).
   */
  members: string[] | null;
  last_message: LastMessage | null;
  unread_count: number;
  mention_count: number;
  last_activity_at: Date;
  description: string | null;
  avatar_url: string | null;
  member_count: number;
  version: number;
}

// A big group's member array would be 1,024 ids in each of 1,024 rows: quadratic to write at
// creation and to read back. Rows of groups over LIST_MEMBERS_MAX keep an empty array and
// member_count; only small lists are stored and selected.
export const USER_CONVERSATION_COLUMNS = `user_id, conversation_id, kind, title,
  CASE WHEN member_count <= ${LIST_MEMBERS_MAX} AND cardinality(members) <= ${LIST_MEMBERS_MAX} THEN members END AS members, last_message, unread_count, mention_count,
  last_activity_at, description, avatar_url, member_count, version`;

/** A user_conversations row as a conversation-list entry (HTTP list and Redis cache alike). */
export function toCachedConversation(r: UserConversationRow): CachedConversation {
  return {
    conversationId: r.conversation_id,
    kind: r.kind,
    title: r.title,
    members: r.members && r.members.length <= LIST_MEMBERS_MAX && (r.member_count || r.members.length) <= LIST_MEMBERS_MAX ? r.members : null,
    memberCount: r.member_count || (r.members?.length ?? 0),
    lastMessage: r.last_message,
    unreadCount: r.unread_count,
    mentionCount: r.mention_count,
    lastActivityAt: r.last_activity_at.toISOString(),
    ...(r.description ? { description: r.description } : {}),
    ...(r.avatar_url ? { avatarUrl: r.avatar_url } : {}),
  };
}

/** Every conversation-list row of one user with its version: what `ConversationListCache.load` takes. */
export async function listEntries(q: Queryable, userId: string): Promise<Array<{ version: number; entry: CachedConversation }>> {
  const { rows } = await q.query<UserConversationRow>(`SELECT ${USER_CONVERSATION_COLUMNS} FROM user_conversations WHERE user_id = $1`, [userId]);
  return rows.map((r) => ({ version: r.version, entry: toCachedConversation(r) }));
}

/**
 * A user's list with the position of the projection that writes it (`checkpointName`), read in
 * one statement (one snapshot): the list holds every change up to `position` (for the cache's
 * load, which must not cache a read older than the latest invalidation).
 */
export async function listEntriesAt(
  q: Queryable,
  userId: string,
  checkpointName: string,
): Promise<{ entries: Array<{ version: number; entry: CachedConversation }>; position: number }> {
  const { rows } = await q.query<UserConversationRow & { checkpoint: number | null; user_id: string | null }>(
    `SELECT cp.position AS checkpoint, r.*
       FROM (SELECT coalesce((SELECT position FROM projection_checkpoints WHERE name = $2), 0) AS position) cp
       LEFT JOIN LATERAL (SELECT ${USER_CONVERSATION_COLUMNS} FROM user_conversations WHERE user_id = $1) r ON true`,
    [userId, checkpointName],
  );
  return {
    position: Number(rows[0]?.checkpoint ?? 0),
    entries: rows.filter((r) => r.user_id !== null).map((r) => ({ version: r.version, entry: toCachedConversation(r) })),
  };
}

/** Some (user, conversation) rows with their versions; missing rows are left out. */
export async function userConversationRows(
  q: Queryable,
  keys: ReadonlyArray<{ userId: string; conversationId: string }>,
): Promise<UserConversationRow[]> {
  if (keys.length === 0) return [];
  const { rows } = await q.query<UserConversationRow>(
    `SELECT ${USER_CONVERSATION_COLUMNS} FROM user_conversations
      WHERE (user_id, conversation_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [keys.map((k) => k.userId), keys.map((k) => k.conversationId)],
  );
  return rows;
}

/** Every user that has a conversation list, in id order (for a full cache rebuild). */
export async function listUserIds(q: Queryable): Promise<string[]> {
  const { rows } = await q.query<{ user_id: string }>('SELECT DISTINCT user_id FROM user_conversations ORDER BY user_id');
  return rows.map((r) => r.user_id);
}
