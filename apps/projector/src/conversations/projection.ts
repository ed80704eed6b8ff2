import type { Logger } from 'pino';
import type { Names, ServerFrameOf } from '@chat/contracts';
import { LIST_MEMBERS_MAX, userConversationRows, type PoolClient, type UserConversationRow } from '@chat/postgres';
import type { ConversationListCache } from '@chat/redis';
import { ofType, type Projection, type StoredEvent } from '../projection';
import type { Retention } from '../receipts/projection';
import type { Route, Router } from '../routing';
import { conversationsChange, conversationsSteps, DELETED_PREVIEW, readMarks, tips, type ConversationsChange } from './evolve';
import { PROJECTION_TABLES } from '@chat/postgres';

export const CONVERSATIONS_TABLES = PROJECTION_TABLES.conversations;

type Of<K extends ConversationsChange['kind']> = Extract<ConversationsChange, { kind: K }>;

/** What a row stores of its members: the list up to LIST_MEMBERS_MAX, none for bigger groups (member_count says how many). */
const listMembers = (members: string[]): string[] => (members.length <= LIST_MEMBERS_MAX ? members : []);

async function writeCreated(tx: PoolClient, changes: Array<Of<'created'>>): Promise<void> {
  const rows = changes.flatMap((c) => c.rows);
  // A direct conversation created again is the same conversation: keep the first.
  await tx.query(
    `INSERT INTO user_conversations (user_id, conversation_id, kind, title, members, last_activity_at, description, avatar_url, member_count, version)
     SELECT t.user_id, t.conversation_id, t.kind, t.title, m.members, t.at, t.description, t.avatar_url, t.member_count, t.version
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[], $7::text[], $8::text[], $9::bigint[], $10::int[])
            AS t (user_id, conversation_id, kind, title, members, at, description, avatar_url, version, member_count)
       CROSS JOIN LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(t.members)) AS members) m
     ON CONFLICT (user_id, conversation_id) DO NOTHING`,
    [
      rows.map((r) => r.userId),
      rows.map((r) => r.conversationId),
      rows.map((r) => r.kind),
      rows.map((r) => r.title),
      rows.map((r) => JSON.stringify(listMembers(r.members))),
      rows.map((r) => r.lastActivityAt),
      rows.map((r) => r.description),
      rows.map((r) => r.avatarUrl),
      rows.map((r) => r.streamSeq),
      rows.map((r) => r.members.length),
    ],
  );
}

/** Unread: text messages after read_seq not sent by the user. Mentions: those of them that mention the user. */
const UNREAD_AFTER = (readSeq: string) => `(SELECT count(*) FROM conversation_senders s
          WHERE s.conversation_id = uc.conversation_id AND s.seq > ${readSeq} AND s.sender_id <> uc.user_id)`;
const MENTIONS_AFTER = (readSeq: string) => `(SELECT count(*) FROM conversation_senders s
          WHERE s.conversation_id = uc.conversation_id AND s.seq > ${readSeq} AND s.sender_id <> uc.user_id AND uc.user_id = ANY(s.mentions))`;

async function writeSent(tx: PoolClient, changes: Array<Of<'sent'>>): Promise<void> {
  await tx.query(
    `INSERT INTO conversation_senders (conversation_id, seq, sender_id, mentions)
     SELECT t.conversation_id, t.seq, t.sender_id, CASE WHEN t.mentions IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(t.mentions)) END
       FROM unnest($1::text[], $2::int[], $3::text[], $4::jsonb[]) AS t (conversation_id, seq, sender_id, mentions)`,
    [changes.map((c) => c.conversationId), changes.map((c) => c.seq), changes.map((c) => c.senderId), changes.map((c) => (c.mentions ? JSON.stringify(c.mentions) : null))],
  );
  const t = tips(changes);
  // Unread (and mentions) grow by the run's messages past the member's read watermark and
  // not their own; conversation_senders already holds the run, so one count per row does it.
  // SET expressions see the row as it was, so uc.last_seq is the previous tip.
  await tx.query(
    `UPDATE user_conversations uc SET
       unread_count = uc.unread_count + (
         SELECT count(*) FROM conversation_senders s
          WHERE s.conversation_id = uc.conversation_id
            AND s.seq > GREATEST(uc.read_seq, uc.last_seq) AND s.seq <= t.last_seq
            AND s.sender_id <> uc.user_id),
       mention_count = uc.mention_count + (
         SELECT count(*) FROM conversation_senders s
          WHERE s.conversation_id = uc.conversation_id
            AND s.seq > GREATEST(uc.read_seq, uc.last_seq) AND s.seq <= t.last_seq
            AND s.sender_id <> uc.user_id AND uc.user_id = ANY(s.mentions)),
       last_seq = t.last_seq,
       last_message = t.last_message,
       last_activity_at = t.at,
       version = GREATEST(uc.version, t.version)
     FROM unnest($1::text[], $2::int[], $3::jsonb[], $4::timestamptz[], $5::bigint[]) AS t (conversation_id, last_seq, last_message, at, version)
     WHERE uc.conversation_id = t.conversation_id AND uc.last_seq < t.last_seq`,
    [
      t.map((x) => x.conversationId),
      t.map((x) => x.lastSeq),
      t.map((x) => JSON.stringify(x.lastMessage)),
      t.map((x) => x.lastActivityAt),
      t.map((x) => x.streamSeq),
    ],
  );
}

async function writeRead(tx: PoolClient, changes: Array<Of<'read'>>): Promise<void> {
  const marks = readMarks(changes);
  // Recounted exactly rather than decremented: the counts cannot drift.
  await tx.query(
    `UPDATE user_conversations uc SET
       read_seq = GREATEST(uc.read_seq, t.up_to),
       unread_count = ${UNREAD_AFTER('GREATEST(uc.read_seq, t.up_to)')},
       mention_count = ${MENTIONS_AFTER('GREATEST(uc.read_seq, t.up_to)')},
       version = GREATEST(uc.version, t.version)
     FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) AS t (conversation_id, user_id, up_to, version)
     WHERE uc.conversation_id = t.conversation_id AND uc.user_id = t.user_id`,
    [marks.map((m) => m.conversationId), marks.map((m) => m.userId), marks.map((m) => m.upToSeq), marks.map((m) => m.streamSeq)],
  );
}

/**
 * One membership change (rare; a few statements each, every one multi-row): the remaining or
 * joined members' rows get the new member list and the system message as the last message;
 * a removed member's row goes, a joined member's row is created (read up to the join).
 */
async function writeMembership(tx: PoolClient, c: Of<'membership'>): Promise<void> {
  if (c.op === 'remove') {
    await tx.query('DELETE FROM user_conversations WHERE conversation_id = $1 AND user_id = ANY($2::text[])', [c.conversationId, c.userIds]);
  }
  const { rows } = await tx.query<{ kind: string; title: string | null; description: string | null; avatar_url: string | null; members: string[]; member_count: number }>(
    'SELECT kind, title, description, avatar_url, members, member_count FROM user_conversations WHERE conversation_id = $1 LIMIT 1',
    [c.conversationId],
  );
  const tpl = rows[0] ?? { kind: 'group', title: null, description: null, avatar_url: null, members: [], member_count: 0 };
  // The deciders add only non-members and remove only members.
  const before = tpl.member_count || tpl.members.length;
  const count = Math.max(0, before + (c.op === 'add' ? c.userIds.length : -c.userIds.length));
  let members: string[] = [];
  if (count <= LIST_MEMBERS_MAX) {
    if (before <= LIST_MEMBERS_MAX) {
      members = c.op === 'add' ? [...new Set([...tpl.members, ...c.userIds])] : tpl.members.filter((u) => !c.userIds.includes(u));
    } else {
      // A big group (no list kept) shrinking to a listed size: the members as the messages
      // projection holds them, already applied for this batch in the same transaction.
      const { rows: m } = await tx.query<{ user_id: string }>(
        'SELECT user_id FROM conversation_members WHERE conversation_id = $1 ORDER BY joined_after_seq, user_id',
        [c.conversationId],
      );
      members = m.map((r) => r.user_id);
    }
  }
  const lastMessage = JSON.stringify(c.lastMessage);
  await tx.query(
    `UPDATE user_conversations SET members = $2::text[], member_count = $7,
       last_seq = GREATEST(last_seq, $3), last_message = $4::jsonb, last_activity_at = $5, version = GREATEST(version, $6)
     WHERE conversation_id = $1`,
    [c.conversationId, members, c.seq, lastMessage, c.at, c.streamSeq, count],
  );
  if (c.op === 'add') {
    await tx.query(
      `INSERT INTO user_conversations (user_id, conversation_id, kind, title, members, last_seq, last_message, last_activity_at, read_seq,
                                       unread_count, description, avatar_url, member_count, mention_count, version)
       SELECT u, $2, $3, $4, $5::text[], $6, $7::jsonb, $8, $6, 0, $9, $10, $12, 0, $11
         FROM unnest($1::text[]) AS u
       ON CONFLICT (user_id, conversation_id) DO NOTHING`,
      [c.userIds, c.conversationId, tpl.kind, tpl.title, members, c.seq, lastMessage, c.at, tpl.description, tpl.avatar_url, c.streamSeq, count],
    );
  }
}

async function writeMeta(tx: PoolClient, c: Of<'meta'>): Promise<void> {
  await tx.query(
    `UPDATE user_conversations SET
       title = CASE WHEN $2::bool THEN $3 ELSE title END,
       description = CASE WHEN $4::bool THEN $5 ELSE description END,
       avatar_url = CASE WHEN $6::bool THEN $7 ELSE avatar_url END,
       version = GREATEST(version, $8)
     WHERE conversation_id = $1`,
    [c.conversationId, c.title !== undefined, c.title ?? null, c.description !== undefined, c.description ?? null, c.avatarUrl !== undefined, c.avatarUrl ?? null, c.streamSeq],
  );
}

async function writeEdits(tx: PoolClient, changes: Array<Of<'edit'>>): Promise<void> {
  // Only the list's preview changes, and only where the edited message is the last one.
  for (const c of changes) {
    await tx.query(
      `UPDATE user_conversations SET last_message = jsonb_set(last_message, '{preview}', to_jsonb($3::text)), version = GREATEST(version, $4)
        WHERE conversation_id = $1 AND (last_message->>'seq')::int = $2 AND NOT coalesce((last_message->>'deleted')::bool, false)`,
      [c.conversationId, c.seq, c.preview, c.streamSeq],
    );
  }
}

async function writeDeletes(tx: PoolClient, changes: Array<Of<'delete'>>): Promise<void> {
  for (const c of changes) {
    // A deleted message no longer counts as unread or as a mention.
    const gone = await tx.query('DELETE FROM conversation_senders WHERE conversation_id = $1 AND seq = $2', [c.conversationId, c.seq]);
    await tx.query(
      `UPDATE user_conversations uc SET
         unread_count = ${UNREAD_AFTER('uc.read_seq')},
         mention_count = ${MENTIONS_AFTER('uc.read_seq')},
         last_message = CASE WHEN (uc.last_message->>'seq')::int = $2
                             THEN uc.last_message || jsonb_build_object('preview', $3::text, 'deleted', true)
                             ELSE uc.last_message END,
         version = GREATEST(uc.version, $4)
       WHERE uc.conversation_id = $1 AND ((uc.read_seq < $2 AND $5::bool) OR (uc.last_message->>'seq')::int = $2)`,
      [c.conversationId, c.seq, DELETED_PREVIEW, c.streamSeq, (gone.rowCount ?? 0) > 0],
    );
  }
}

/** The list preview of a last message whose body left the read models (ephemeral retention, max age). */
export const EXPIRED_PREVIEW = 'This message has expired';

/**
 * Ephemeral retention: when proj-receipts nulled the body of a conversation's last message at
 * or before this receipt (messages.expunged_stream_seq), its list preview goes too (with
 * `expired: true`). proj-receipts applies the same batch earlier in the same transaction, so
 * what it nulled is there, and a replay gives the same rows. Returns the conversations whose
 * rows changed.
 */
async function writeExpired(tx: PoolClient, events: readonly StoredEvent[]): Promise<string[]> {
  const receipts = ofType(events, 'MessagesDelivered', 'MessagesRead');
  if (receipts.length === 0) return [];
  const last = new Map<string, number>();
  for (const r of receipts) last.set(r.event.conversationId, r.streamSeq);
  const { rows } = await tx.query<{ conversation_id: string }>(
    `UPDATE user_conversations uc SET
       last_message = uc.last_message || jsonb_build_object('preview', $3::text, 'expired', true),
       version = GREATEST(uc.version, t.stream_seq)
       FROM unnest($1::text[], $2::bigint[]) AS t (conversation_id, stream_seq), messages m
      WHERE uc.conversation_id = t.conversation_id AND m.conversation_id = t.conversation_id
        AND m.seq = (uc.last_message->>'seq')::int AND m.expunged_stream_seq <= t.stream_seq
        AND NOT coalesce((uc.last_message->>'expired')::bool, false) AND NOT coalesce((uc.last_message->>'deleted')::bool, false)
    RETURNING uc.conversation_id`,
    [[...last.keys()], [...last.values()], EXPIRED_PREVIEW],
  );
  return [...new Set(rows.map((r) => r.conversation_id))];
}

/** What proj-conversations does after commit: drops the changed lists from the Redis cache, sends conversation.activity frames. */
export interface ConversationsPlan {
  /** Rows as committed that get an activity frame: those a change other than a message or a read touched. */
  rows: UserConversationRow[];
  /** Users whose list changed (their cached list is invalidated). */
  users: string[];
  /** The batch's last stream sequence: the projection's position once it commits. */
  streamSeq: number;
}

/**
 * Pure: one conversation.activity frame per (user, conversation) row of the batch, except for
 * rows only messages and reads touched: a device got `message.new` (or `message.sent`) for a
 * message and a `receipt` for a read of its user's other devices, so it knows the change already.
 */
export function activityRoutes(plan: Pick<ConversationsPlan, 'rows' | 'streamSeq'>): Route[] {
  return plan.rows.map((r) => {
    const frame: ServerFrameOf<'conversation.activity'> = {
      type: 'conversation.activity',
      conversationId: r.conversation_id,
      lastActivityAt: r.last_activity_at.toISOString(),
      lastMessage: (r.last_message as ServerFrameOf<'conversation.activity'>['lastMessage']) ?? null,
      unreadCount: r.unread_count,
      mentioned: r.mention_count > 0,
    };
    return { streamSeq: plan.streamSeq, frame, users: [r.user_id] };
  });
}

/** Pure: which rows a batch touched: every row of a conversation event's conversation, the reader's row of a read. */
export function touched(batch: readonly StoredEvent[]): {
  conversations: string[];
  /** Conversations with a change other than a message (creation, membership, metadata, edits, deletes). */
  notable: string[];
  reads: Array<{ userId: string; conversationId: string }>;
  removed: Array<{ userId: string; conversationId: string; version: number }>;
} {
  const conversations = new Set<string>();
  const notable = new Set<string>();
  const reads = new Map<string, { userId: string; conversationId: string }>();
  const removed: Array<{ userId: string; conversationId: string; version: number }> = [];
  for (const { streamSeq, event: e } of batch) {
    const c = conversationsChange({ streamSeq, event: e });
    if (!c) continue;
    if (c.kind === 'read') reads.set(`${c.conversationId}\u0000${c.userId}`, { userId: c.userId, conversationId: c.conversationId });
    else if (c.kind === 'created') conversations.add(c.rows[0]?.conversationId ?? '');
    else conversations.add(c.conversationId);
    if (c.kind !== 'read' && c.kind !== 'sent') notable.add(c.kind === 'created' ? (c.rows[0]?.conversationId ?? '') : c.conversationId);
    if (c.kind === 'membership' && c.op === 'remove') for (const u of c.userIds) removed.push({ userId: u, conversationId: c.conversationId, version: streamSeq });
  }
  conversations.delete('');
  notable.delete('');
  return { conversations: [...conversations], notable: [...notable], reads: [...reads.values()], removed };
}

/**
 * proj-conversations (chat.evt.>): the per-user conversation list with exact unread and
 * mention counts; each row's `version` is the stream sequence of the last event applied to it.
 * Consumes every event because unread counts depend on both messages and read receipts, in
 * stream order.
 *
 * After commit, for the rows the batch touched (read back as committed): versioned upserts
 * and removals in the Redis list cache (always, loaded or not), and one
 * `conversation.activity` per (user, conversation) to the user's devices, one publish per edge.
 */
export function conversationsProjection(
  names: Names,
  deps: { router?: Router | null; cache?: ConversationListCache | null; log?: Logger; retention?: Retention } = {},
): Projection<ConversationsPlan | null> {
  const { router, cache, log } = deps;
  const ephemeral = deps.retention === 'ephemeral';
  // Conversations whose previews apply() just expired, for plan() in the same transaction.
  let expired: string[] = [];
  return {
    name: names.consumers.projConversations,
    tables: CONVERSATIONS_TABLES,
    async apply(tx, events) {
      expired = [];
      const changes = events.map(conversationsChange).filter((c): c is ConversationsChange => c !== null);
      for (const step of conversationsSteps(changes)) {
        switch (step.kind) {
          case 'counts':
            if (step.sent.length) await writeSent(tx, step.sent);
            if (step.read.length) await writeRead(tx, step.read);
            break;
          case 'created':
            await writeCreated(tx, step.items as Array<Of<'created'>>);
            break;
          case 'membership':
            for (const c of step.items as Array<Of<'membership'>>) await writeMembership(tx, c);
            break;
          case 'meta':
            for (const c of step.items as Array<Of<'meta'>>) await writeMeta(tx, c);
            break;
          case 'edit':
            await writeEdits(tx, step.items as Array<Of<'edit'>>);
            break;
          case 'delete':
            await writeDeletes(tx, step.items as Array<Of<'delete'>>);
            break;
          default: {
            const never: never = step;
            throw new Error(`unknown change ${String(never)}`);
          }
        }
      }
      if (ephemeral) expired = await writeExpired(tx, events);
    },
    async plan(tx, batch) {
      const expiredNow = expired;
      expired = [];
      if (!router && !cache) return null;
      const t = touched(batch);
      t.conversations = [...new Set([...t.conversations, ...expiredNow])];
      if (t.conversations.length === 0 && t.reads.length === 0 && t.removed.length === 0) return null;
      // Every member's row of a conversation a batch changed (and each reader's own row).
      const { rows: convRows } = t.conversations.length
        ? await tx.query<{ user_id: string; conversation_id: string }>(
            'SELECT user_id, conversation_id FROM user_conversations WHERE conversation_id = ANY($1::text[])',
            [t.conversations],
          )
        : { rows: [] };
      const users = new Set([...convRows.map((r) => r.user_id), ...t.reads.map((r) => r.userId), ...t.removed.map((r) => r.userId)]);
      // The rows themselves only where an activity frame is due (not for messages and reads).
      const notable = new Set([...t.notable, ...expiredNow]);
      const rows = router && notable.size
        ? await userConversationRows(tx, convRows.filter((r) => notable.has(r.conversation_id)).map((r) => ({ userId: r.user_id, conversationId: r.conversation_id })))
        : [];
      return { rows, users: [...users], streamSeq: batch.reduce((m, e) => Math.max(m, e.streamSeq), 0) };
    },
    async afterCommit(plan) {
      if (!plan) return;
      await cache?.invalidate(plan.users, plan.streamSeq);
      if (router && plan.rows.length) {
        const publishes = await router.route(activityRoutes(plan), 'act');
        log?.debug({ rows: plan.rows.length, publishes }, 'conversation activity routed');
      }
    },
  };
}
