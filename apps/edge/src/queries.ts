import { blockedByAmong, blockingAmong, listEntriesAt, toCachedConversation, USER_CONVERSATION_COLUMNS, type Pool, type UserConversationRow } from '@chat/postgres';
import { ChatError, encodeCursor, type LastSeenVisibility, type MessageBody, type MessageNew, type SyncedFrame } from '@chat/contracts';

interface MessageRow {
  conversation_id: string;
  seq: number;
  message_id: string;
  sender_id: string;
  body: MessageNew['body'] | null;
  reply_to: string | null;
  sent_at: Date;
  stream_seq: number;
  kind: 'text' | 'system';
  system: MessageNew['system'] | null;
  mentions: string[] | null;
  forwarded: boolean;
  edited_at: Date | null;
  deleted_at: Date | null;
  expunged_at: Date | null;
}

const MESSAGE_COLUMN_NAMES = [
  'conversation_id', 'seq', 'message_id', 'sender_id', 'body', 'reply_to', 'sent_at', 'stream_seq',
  'kind', 'system', 'mentions', 'forwarded', 'edited_at', 'deleted_at', 'expunged_at',
] as const satisfies ReadonlyArray<keyof MessageRow>;
const MESSAGE_COLUMNS = MESSAGE_COLUMN_NAMES.map((c) => `m.${c}`).join(', ');
/** Casts for NULL stand-ins of message columns in a UNION (Postgres infers text otherwise). */
const MESSAGE_COLUMN_TYPES: Partial<Record<(typeof MESSAGE_COLUMN_NAMES)[number], string>> = {
  seq: '::int',
  body: '::jsonb',
  sent_at: '::timestamptz',
  stream_seq: '::bigint',
  system: '::jsonb',
  mentions: '::text[]',
  forwarded: '::boolean',
  edited_at: '::timestamptz',
  deleted_at: '::timestamptz',
  expunged_at: '::timestamptz',
};

/**
 * `ReadModels.inboxAfterMany`: three kinds of rows: the checkpoint (c); each request's inbox
 * entries (e), narrow; and each message those entries point at, once (m) however many inboxes
 * hold it (a group's members syncing together share them: their rows are parsed once, not
 * once per member). $1 user ids, $2 positions, $3 limits + 1, $4 the checkpoint's name.
 */
const NULL_MESSAGE = MESSAGE_COLUMN_NAMES.map((c) => `NULL${MESSAGE_COLUMN_TYPES[c] ?? ''} AS ${c}`).join(', ');
const ENTRY_MESSAGE = MESSAGE_COLUMN_NAMES.map((c) => (c === 'conversation_id' || c === 'seq' ? `e.${c}` : `NULL${MESSAGE_COLUMN_TYPES[c] ?? ''}`)).join(', ');
const INBOX_AFTER_MANY = `WITH e AS (
         SELECT q.idx, i.conversation_id, i.seq, i.kind AS entry, i.stream_seq AS position, h.hidden_at
           FROM unnest($1::text[], $2::bigint[], $3::int[]) WITH ORDINALITY AS q(user_id, after_seq, lim, idx)
           CROSS JOIN LATERAL (
             SELECT * FROM inbox i WHERE i.user_id = q.user_id AND i.stream_seq > q.after_seq ORDER BY i.stream_seq LIMIT q.lim) i
           LEFT JOIN hidden_messages h ON h.user_id = i.user_id AND h.conversation_id = i.conversation_id AND h.seq = i.seq)
       SELECT 'c' AS r, coalesce((SELECT position FROM projection_checkpoints WHERE name = $4), 0) AS checkpoint,
              NULL::bigint AS idx, NULL::text AS entry, NULL::bigint AS position, NULL::timestamptz AS hidden_at, ${NULL_MESSAGE}
       UNION ALL
       SELECT 'e', NULL, e.idx, e.entry, e.position, e.hidden_at, ${ENTRY_MESSAGE}
         FROM e
       UNION ALL
       SELECT 'm', NULL, NULL, NULL, NULL, NULL, ${MESSAGE_COLUMNS}
         FROM messages m JOIN (SELECT DISTINCT conversation_id, seq FROM e) d ON m.conversation_id = d.conversation_id AND m.seq = d.seq
       ORDER BY r, idx, position`;

/** A live message as a `message.new` frame; `cursor` is the inbox position it came from. */
export function toMessageFrame(r: MessageRow, cursor = encodeCursor(r.stream_seq)): MessageNew {
  return {
    type: 'message.new',
    conversationId: r.conversation_id,
    messageId: r.message_id,
    seq: r.seq,
    senderId: r.sender_id,
    body: r.body ?? { text: '' },
    sentAt: r.sent_at.toISOString(),
    ...(r.reply_to ? { replyTo: r.reply_to } : {}),
    cursor,
    ...(r.mentions?.length ? { mentions: r.mentions } : {}),
    ...(r.forwarded ? { forwarded: true as const } : {}),
    ...(r.system ? { system: r.system } : {}),
    ...(r.edited_at ? { editedAt: r.edited_at.toISOString() } : {}),
  };
}

const deletedFrame = (r: MessageRow, scope: 'everyone' | 'me', at: Date, cursor: string): SyncedFrame => ({
  type: 'message.deleted',
  conversationId: r.conversation_id,
  messageId: r.message_id,
  seq: r.seq,
  scope,
  deletedAt: at.toISOString(),
  cursor,
});

type InboxRow = MessageRow & { entry: 'message' | 'edit' | 'delete' | 'hide'; position: number; hidden_at: Date | null };

/** One device's sync read: its inbox after a stream position, at most `limit` entries. */
/** A viewer asking which of `userIds` share a conversation with them. */
export interface ContactsRequest {
  viewerId: string;
  userIds: readonly string[];
}

export interface InboxRequest {
  userId: string;
  afterStreamSeq: number;
  limit: number;
}

/** A page of an inbox and the checkpoint it is complete up to. */
export interface InboxPage {
  frames: SyncedFrame[];
  hasMore: boolean;
  checkpoint: number;
}

/**
 * One inbox entry as the frame a device should get now: the message (as it is now), its
 * edit, or its deletion. A message deleted (or hidden for this user) since is sent as
 * `message.deleted`, so the device keeps the seq as a tombstone and sees no gap.
 */
export function toSyncedFrame(r: InboxRow): SyncedFrame {
  const cursor = encodeCursor(r.position);
  if (r.hidden_at) return deletedFrame(r, 'me', r.hidden_at, cursor);
  if (r.deleted_at) return deletedFrame(r, 'everyone', r.deleted_at, cursor);
  switch (r.entry) {
    case 'message':
      return toMessageFrame(r, cursor);
    case 'edit':
      return {
        type: 'message.edited',
        conversationId: r.conversation_id,
        messageId: r.message_id,
        seq: r.seq,
        body: r.body ?? { text: '' },
        editedAt: (r.edited_at ?? r.sent_at).toISOString(),
        cursor,
      };
    case 'delete':
    case 'hide':
      // Only reached if the row that caused it has not been projected as deleted/hidden yet.
      return deletedFrame(r, r.entry === 'hide' ? 'me' : 'everyone', r.sent_at, cursor);
  }
}

export type Membership = { status: 'member'; joinedAfterSeq: number; role: string } | { status: 'not_member' } | { status: 'no_conversation' };

/** Read-side queries over the Postgres read models (owned by the projector). */
export class ReadModels {
  constructor(private readonly pool: Pool) {}

  async membership(conversationId: string, userId: string): Promise<Membership> {
    const { rows } = await this.pool.query<{ joined_after_seq: number | null; role: string | null }>(
      `SELECT cm.joined_after_seq, cm.role
         FROM conversations c LEFT JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $2
        WHERE c.id = $1`,
      [conversationId, userId],
    );
    const row = rows[0];
    if (!row) return { status: 'no_conversation' };
    if (row.role === null) return { status: 'not_member' };
    return { status: 'member', joinedAfterSeq: row.joined_after_seq ?? 0, role: row.role };
  }

  /** Membership or the matching ChatError (404 unknown conversation, 403 not a member). */
  async requireMember(conversationId: string, userId: string): Promise<{ joinedAfterSeq: number; role: string }> {
    const m = await this.membership(conversationId, userId);
    if (m.status === 'no_conversation') throw new ChatError('not_found', 'no such conversation');
    if (m.status === 'not_member') throw new ChatError('forbidden', 'not a member of this conversation');
    return m;
  }

  /**
   * For each request, of its `userIds` those who share a conversation with its viewer (presence
   * is shown only to them): one statement for all the requests (the pairs of every viewer with
   * every user asked about are read and each request keeps its own).
   */
  async contactsAmongMany(requests: readonly ContactsRequest[]): Promise<Array<Set<string>>> {
    const viewers = [...new Set(requests.map((r) => r.viewerId))];
    const users = [...new Set(requests.flatMap((r) => r.userIds))];
    if (users.length === 0) return requests.map(() => new Set());
    const { rows } = await this.pool.query<{ viewer: string; user_id: string }>({
      name: 'edge-contacts-among-many',
      text: `SELECT DISTINCT me.user_id AS viewer, other.user_id
               FROM conversation_members me JOIN conversation_members other ON other.conversation_id = me.conversation_id
              WHERE me.user_id = ANY($1::text[]) AND other.user_id = ANY($2::text[])`,
      values: [viewers, users],
    });
    const byViewer = new Map<string, Set<string>>();
    for (const r of rows) {
      const set = byViewer.get(r.viewer);
      if (set) set.add(r.user_id);
      else byViewer.set(r.viewer, new Set([r.user_id]));
    }
    return requests.map((r) => {
      const contacts = byViewer.get(r.viewerId);
      return new Set(contacts ? r.userIds.filter((u) => contacts.has(u)) : []);
    });
  }

  /** Whom `userId` blocks, newest first, with since when. */
  async blocks(userId: string): Promise<Array<{ userId: string; at: string }>> {
    const { rows } = await this.pool.query<{ blocked_user_id: string; at: Date }>({
      name: 'edge-blocks',
      text: 'SELECT blocked_user_id, at FROM user_blocks WHERE user_id = $1 ORDER BY at DESC, blocked_user_id',
      values: [userId],
    });
    return rows.map((r) => ({ userId: r.blocked_user_id, at: r.at.toISOString() }));
  }

  /** A user's last-seen privacy (`everyone` until they set one). */
  async lastSeenSetting(userId: string): Promise<LastSeenVisibility> {
    const { rows } = await this.pool.query<{ last_seen: LastSeenVisibility }>('SELECT last_seen FROM user_settings WHERE user_id = $1', [userId]);
    return rows[0]?.last_seen ?? 'everyone';
  }

  /** Of `userIds`, whom each blocks (users who block nobody left out). */
  blockingAmong(userIds: readonly string[]): Promise<Map<string, Set<string>>> {
    return blockingAmong(this.pool, userIds);
  }

  /** Of `userIds`, who blocks each (users nobody blocks left out). */
  blockedByAmong(userIds: readonly string[]): Promise<Map<string, Set<string>>> {
    return blockedByAmong(this.pool, userIds);
  }

  /** Of `userIds`, those who show their presence to nobody. */
  async hidingPresence(userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const { rows } = await this.pool.query<{ user_id: string }>({
      name: 'edge-hiding-presence',
      text: "SELECT user_id FROM user_settings WHERE user_id = ANY($1::text[]) AND last_seen = 'nobody'",
      values: [userIds],
    });
    return new Set(rows.map((r) => r.user_id));
  }

  /** A conversation's members (empty when there is no such conversation). */
  async memberIds(conversationId: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ user_id: string }>('SELECT user_id FROM conversation_members WHERE conversation_id = $1', [conversationId]);
    return rows.map((r) => r.user_id);
  }

  /** A projection's checkpoint (null before it ever ran). */
  async checkpoint(name: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ position: number }>('SELECT position FROM projection_checkpoints WHERE name = $1', [name]);
    return rows[0]?.position ?? null;
  }

  /**
   * Many users' inboxes in one statement: for each request, the entries after its stream
   * position, oldest first, up to its limit; and the checkpoint of the projection that writes
   * the inbox (`checkpointName`), read in the same statement (one snapshot): every event up to
   * `checkpoint` is in what was read, for every request. Results in request order.
   */
  async inboxAfterMany(requests: readonly InboxRequest[], checkpointName: string): Promise<InboxPage[]> {
    if (requests.length === 0) return [];
    const { rows } = await this.pool.query<
      Partial<MessageRow> & { r: 'c' | 'e' | 'm'; checkpoint: number | null; idx: string | null; entry: InboxRow['entry'] | null; position: number | null; hidden_at: Date | null }
    >({
      // Prepared once per connection: the plan is the same for every batch.
      name: 'edge-inbox-after-many',
      text: INBOX_AFTER_MANY,
      values: [requests.map((r) => r.userId), requests.map((r) => r.afterStreamSeq), requests.map((r) => r.limit + 1), checkpointName],
    });
    let checkpoint = 0;
    const messages = new Map<string, MessageRow>();
    for (const row of rows) {
      if (row.r === 'c') checkpoint = Number(row.checkpoint ?? 0);
      else if (row.r === 'm') messages.set(`${row.conversation_id}\u0000${row.seq}`, row as MessageRow);
    }
    const pages: InboxPage[] = requests.map(() => ({ frames: [], hasMore: false, checkpoint }));
    // One frame object per (message, entry, position, hidden): the members of a group syncing
    // together share it, and the session serialises it once for all of them (syncBatchJson).
    const frames = new Map<string, SyncedFrame>();
    for (const row of rows) {
      if (row.r !== 'e') continue;
      const key = `${row.conversation_id}\u0000${row.seq}`;
      // An entry whose message row is gone (it cannot be: both are written in one transaction) is skipped, as the join did.
      const m = messages.get(key);
      if (!m) continue;
      const i = Number(row.idx) - 1;
      const page = pages[i]!;
      if (page.frames.length === requests[i]!.limit) {
        page.hasMore = true;
        continue;
      }
      const frameKey = `${key}\u0000${row.entry}\u0000${row.position}\u0000${row.hidden_at?.getTime() ?? ''}`;
      let frame = frames.get(frameKey);
      if (!frame) {
        frame = toSyncedFrame({ ...m, entry: row.entry!, position: row.position!, hidden_at: row.hidden_at });
        frames.set(frameKey, frame);
      }
      page.frames.push(frame);
    }
    return pages;
  }

  /**
   * A page of history the user may see (from their join on, without what they hid), oldest
   * first. `afterSeq` pages forward; otherwise the page ends just before `beforeSeq` (or at the
   * newest message). Messages deleted for everyone stay as tombstones: `body: null`, `deletedAt`.
   * Messages whose body left the read models (CHAT_RETENTION=ephemeral, once every recipient
   * device acknowledged them): `body: null`, `expired: true`, `expiredAt`.
   */
  async history(conversationId: string, userId: string, joinedAfterSeq: number, q: { beforeSeq?: number; afterSeq?: number; limit: number }) {
    const forward = q.afterSeq !== undefined;
    const bound = forward ? Math.max(q.afterSeq!, joinedAfterSeq) : (q.beforeSeq ?? 2 ** 31 - 1);
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m
        WHERE m.conversation_id = $1 AND m.seq > $4 AND ${forward ? 'm.seq > $2' : 'm.seq < $2'}
          AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $5 AND h.conversation_id = m.conversation_id AND h.seq = m.seq)
        ORDER BY m.seq ${forward ? 'ASC' : 'DESC'} LIMIT $3`,
      [conversationId, bound, q.limit + 1, joinedAfterSeq, userId],
    );
    const page = rows.slice(0, q.limit);
    if (!forward) page.reverse();
    return {
      messages: page.map((r) =>
        r.deleted_at
          ? { ...toMessageFrame(r), body: null, deletedAt: r.deleted_at.toISOString() }
          : r.expunged_at && r.body === null
            ? { ...toMessageFrame(r), body: null, expired: true as const, expiredAt: r.expunged_at.toISOString() }
            : toMessageFrame(r),
      ),
      hasMore: rows.length > q.limit,
    };
  }

  /** The body of a text message the user can see now (to forward it), else a ChatError. */
  async forwardable(userId: string, conversationId: string, messageId: string): Promise<MessageBody> {
    const { joinedAfterSeq } = await this.requireMember(conversationId, userId);
    const { rows } = await this.pool.query<{ body: MessageBody | null; kind: string }>(
      `SELECT m.body, m.kind FROM messages m
        WHERE m.conversation_id = $1 AND m.message_id = $2 AND m.seq > $3 AND m.deleted_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $4 AND h.conversation_id = m.conversation_id AND h.seq = m.seq)`,
      [conversationId, messageId, joinedAfterSeq, userId],
    );
    const row = rows[0];
    if (!row || !row.body || row.kind !== 'text') throw new ChatError('not_found', 'no such message to forward');
    return row.body;
  }

  /** A page of the user's conversation list straight from Postgres (the source of the Redis list). */
  async conversations(userId: string, q: { limit: number; before?: { at: string; id: string } }) {
    const params: unknown[] = [userId, q.limit + 1];
    let after = '';
    if (q.before) {
      params.push(q.before.at, q.before.id);
      after = 'AND (last_activity_at, conversation_id COLLATE "C") < ($3::timestamptz, $4)';
    }
    const { rows } = await this.pool.query<UserConversationRow>(
      `SELECT ${USER_CONVERSATION_COLUMNS}
         FROM user_conversations WHERE user_id = $1 ${after}
        ORDER BY last_activity_at DESC, conversation_id COLLATE "C" DESC LIMIT $2`,
      params,
    );
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      conversations: page.map(toCachedConversation),
      next: rows.length > q.limit && last ? { at: last.last_activity_at.toISOString(), id: last.conversation_id } : null,
    };
  }

  /** Every list entry of the user with its row version, to load their Redis list. */
  listEntriesAt(userId: string, checkpointName: string) {
    return listEntriesAt(this.pool, userId, checkpointName);
  }

  /** Who has a message delivered / read / pending, from the members' watermarks. */
  /** Null when there is no such message or the asking member joined after it. */
  async receipts(conversationId: string, messageId: string, joinedAfterSeq: number) {
    const msg = await this.pool.query<{ seq: number; sender_id: string }>(
      'SELECT seq, sender_id FROM messages WHERE conversation_id = $1 AND message_id = $2 AND seq > $3',
      [conversationId, messageId, joinedAfterSeq],
    );
    const m = msg.rows[0];
    if (!m) return null;
    const { rows } = await this.pool.query<{
      user_id: string;
      delivered_seq: number | null;
      delivered_at: Date | null;
      read_seq: number | null;
      read_at: Date | null;
      devices_delivered: number;
      devices_total: number;
    }>(
      `SELECT cm.user_id, r.delivered_seq, r.delivered_at, r.read_seq, r.read_at,
              (SELECT count(*) FROM device_receipts d
                WHERE d.conversation_id = cm.conversation_id AND d.user_id = cm.user_id AND d.delivered_seq >= $3)::int AS devices_delivered,
              (SELECT count(*) FROM user_devices u WHERE u.user_id = cm.user_id)::int AS devices_total
         FROM conversation_members cm
         LEFT JOIN member_receipts r ON r.conversation_id = cm.conversation_id AND r.user_id = cm.user_id
        WHERE cm.conversation_id = $1 AND cm.user_id <> $2 AND cm.joined_after_seq < $3
        ORDER BY cm.user_id`,
      [conversationId, m.sender_id, m.seq],
    );
    // devices: how many of the member's known devices (user_devices) acknowledged the message.
    const delivered: Array<{ userId: string; at: string | null; devices: { delivered: number; total: number } }> = [];
    const read: Array<{ userId: string; at: string | null }> = [];
    const pending: string[] = [];
    for (const r of rows) {
      if ((r.delivered_seq ?? 0) >= m.seq) {
        const devices = { delivered: r.devices_delivered, total: Math.max(r.devices_total, r.devices_delivered) };
        delivered.push({ userId: r.user_id, at: r.delivered_at?.toISOString() ?? null, devices });
      }
      else pending.push(r.user_id);
      if ((r.read_seq ?? 0) >= m.seq) read.push({ userId: r.user_id, at: r.read_at?.toISOString() ?? null });
    }
    return { delivered, read, pending };
  }
}
