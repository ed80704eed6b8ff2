import type { Names } from '@chat/contracts';
import type { PoolClient } from '@chat/postgres';
import { runs, type Projection } from '../projection';
import { conversationsChange, readMarks, tips, type ConversationsChange } from './evolve';

export const CONVERSATIONS_TABLES = ['user_conversations', 'conversation_senders'] as const;

type Of<K extends ConversationsChange['kind']> = Extract<ConversationsChange, { kind: K }>;

async function writeCreated(tx: PoolClient, changes: Array<Of<'created'>>): Promise<void> {
  const rows = changes.flatMap((c) => c.rows);
  // A direct conversation created again is the same conversation: keep the first.
  await tx.query(
    `INSERT INTO user_conversations (user_id, conversation_id, kind, title, members, last_activity_at)
     SELECT t.user_id, t.conversation_id, t.kind, t.title, ARRAY(SELECT jsonb_array_elements_text(t.members)), t.at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])
            AS t (user_id, conversation_id, kind, title, members, at)
     ON CONFLICT (user_id, conversation_id) DO NOTHING`,
    [
      rows.map((r) => r.userId),
      rows.map((r) => r.conversationId),
      rows.map((r) => r.kind),
      rows.map((r) => r.title),
      rows.map((r) => JSON.stringify(r.members)),
      rows.map((r) => r.lastActivityAt),
    ],
  );
}

async function writeSent(tx: PoolClient, changes: Array<Of<'sent'>>): Promise<void> {
  await tx.query(
    `INSERT INTO conversation_senders (conversation_id, seq, sender_id)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[])`,
    [changes.map((c) => c.conversationId), changes.map((c) => c.seq), changes.map((c) => c.senderId)],
  );
  const t = tips(changes);
  // Unread grows by the run's messages that are past the member's read watermark and not
  // their own; conversation_senders already holds the run, so one count per row does it.
  // SET expressions see the row as it was, so uc.last_seq is the previous tip.
  await tx.query(
    `UPDATE user_conversations uc SET
       unread_count = uc.unread_count + (
         SELECT count(*) FROM conversation_senders s
          WHERE s.conversation_id = uc.conversation_id
            AND s.seq > GREATEST(uc.read_seq, uc.last_seq) AND s.seq <= t.last_seq
            AND s.sender_id <> uc.user_id),
       last_seq = t.last_seq,
       last_message = t.last_message,
       last_activity_at = t.at
     FROM unnest($1::text[], $2::int[], $3::jsonb[], $4::timestamptz[]) AS t (conversation_id, last_seq, last_message, at)
     WHERE uc.conversation_id = t.conversation_id AND uc.last_seq < t.last_seq`,
    [t.map((x) => x.conversationId), t.map((x) => x.lastSeq), t.map((x) => JSON.stringify(x.lastMessage)), t.map((x) => x.lastActivityAt)],
  );
}

async function writeRead(tx: PoolClient, changes: Array<Of<'read'>>): Promise<void> {
  const marks = readMarks(changes);
  // Recounted exactly rather than decremented: the count cannot drift.
  await tx.query(
    `UPDATE user_conversations uc SET
       read_seq = GREATEST(uc.read_seq, t.up_to),
       unread_count = (
         SELECT count(*) FROM conversation_senders s
          WHERE s.conversation_id = uc.conversation_id
            AND s.seq > GREATEST(uc.read_seq, t.up_to)
            AND s.sender_id <> uc.user_id)
     FROM unnest($1::text[], $2::text[], $3::int[]) AS t (conversation_id, user_id, up_to)
     WHERE uc.conversation_id = t.conversation_id AND uc.user_id = t.user_id`,
    [marks.map((m) => m.conversationId), marks.map((m) => m.userId), marks.map((m) => m.upToSeq)],
  );
}

/**
 * proj-conversations (chat.evt.>): the per-user conversation list with exact unread counts.
 * Consumes every event because unread counts depend on both messages and read receipts,
 * in stream order.
 */
export function conversationsProjection(names: Names): Projection<void> {
  return {
    name: names.consumers.projConversations,
    tables: CONVERSATIONS_TABLES,
    async apply(tx, events) {
      const changes = events.map(conversationsChange).filter((c): c is ConversationsChange => c !== null);
      for (const run of runs(changes, (c) => c.kind)) {
        switch (run.key) {
          case 'created':
            await writeCreated(tx, run.items as Array<Of<'created'>>);
            break;
          case 'sent':
            await writeSent(tx, run.items as Array<Of<'sent'>>);
            break;
          case 'read':
            await writeRead(tx, run.items as Array<Of<'read'>>);
            break;
          default: {
            const never: never = run.key;
            throw new Error(`unknown change ${String(never)}`);
          }
        }
      }
    },
  };
}
