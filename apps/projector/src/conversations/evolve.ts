import type { StoredEvent } from '../projection';
import { systemInfo, systemMessageId, systemText } from '../messages/evolve';
import { isMediaBody, type ConversationKind, type LastMessage, type MessageBody } from '@chat/contracts';

export const PREVIEW_CHARS = 100;


/** A user_conversations row created for one member. */
export interface UserConversationRow {
  userId: string;
  conversationId: string;
  kind: ConversationKind;
  title: string | null;
  members: string[];
  lastActivityAt: string;
  description: string | null;
  avatarUrl: string | null;
  streamSeq: number;
}

/** Latest message of one conversation within a run of messages. */
export interface ConversationTip {
  conversationId: string;
  lastSeq: number;
  lastMessage: LastMessage;
  lastActivityAt: string;
  streamSeq: number;
}

/** What one event changes in the conversation list. */
export type ConversationsChange =
  | { kind: 'created'; rows: UserConversationRow[] }
  | { kind: 'sent'; conversationId: string; seq: number; senderId: string; mentions: string[] | null; lastMessage: LastMessage; streamSeq: number }
  | { kind: 'read'; conversationId: string; userId: string; upToSeq: number; streamSeq: number }
  /** Members joined (add) or one left or was removed (remove); the system message becomes the last message. */
  | { kind: 'membership'; op: 'add' | 'remove'; conversationId: string; userIds: string[]; seq: number; lastMessage: LastMessage; at: string; streamSeq: number }
  | { kind: 'meta'; conversationId: string; title?: string; description?: string; avatarUrl?: string; streamSeq: number }
  | { kind: 'edit'; conversationId: string; seq: number; preview: string; streamSeq: number }
  | { kind: 'delete'; conversationId: string; seq: number; streamSeq: number };

/** What the list shows for a last message that was deleted for everyone. */
export const DELETED_PREVIEW = 'This message was deleted';

/** First characters of a text body, cut on code points so no surrogate pair is split. */
export function preview(text: string): string {
  if (text.length <= PREVIEW_CHARS) return text;
  return Array.from(text).slice(0, PREVIEW_CHARS).join('');
}

/** What the list shows for a media message without a caption, by the media's type. */
export const MEDIA_PREVIEW = { image: '📷 Photo', video: '🎥 Video', audio: '🎤 Audio', file: '📎 File' } as const;

/** A message's list preview: its text (a media message's caption), else what kind of media it is. */
export function bodyPreview(body: MessageBody): string {
  if (body.text !== undefined) return preview(body.text);
  const kind = isMediaBody(body) ? body.media.contentType.split('/')[0] : undefined;
  return kind === 'image' || kind === 'video' || kind === 'audio' ? MEDIA_PREVIEW[kind] : MEDIA_PREVIEW.file;
}

export function conversationsChange({ streamSeq, event: e }: StoredEvent): ConversationsChange | null {
  switch (e.type) {
    case 'ConversationCreated': {
      const members = e.members.map((m) => m.userId);
      return {
        kind: 'created',
        rows: members.map((userId) => ({
          userId,
          conversationId: e.conversationId,
          kind: e.kind,
          title: e.title ?? null,
          members,
          lastActivityAt: e.at,
          description: e.description ?? null,
          avatarUrl: e.avatarUrl ?? null,
          streamSeq,
        })),
      };
    }
    case 'MessageSent':
      return {
        kind: 'sent',
        conversationId: e.conversationId,
        seq: e.seq,
        senderId: e.senderId,
        mentions: e.mentions?.length ? e.mentions.filter((u) => u !== e.senderId) : null,
        lastMessage: { messageId: e.messageId, seq: e.seq, senderId: e.senderId, preview: bodyPreview(e.body), sentAt: e.sentAt },
        streamSeq,
      };
    case 'MessagesRead':
      return { kind: 'read', conversationId: e.conversationId, userId: e.userId, upToSeq: e.upToSeq, streamSeq };
    case 'MembersAdded':
    case 'MemberRemoved':
    case 'MemberLeft': {
      const sys = systemInfo(e);
      return {
        kind: 'membership',
        op: e.type === 'MembersAdded' ? 'add' : 'remove',
        conversationId: e.conversationId,
        userIds: sys.userIds,
        seq: e.seq,
        lastMessage: { messageId: systemMessageId(e.seq), seq: e.seq, senderId: sys.by, preview: preview(systemText(sys)), sentAt: e.at },
        at: e.at,
        streamSeq,
      };
    }
    case 'ConversationUpdated':
      return {
        kind: 'meta',
        conversationId: e.conversationId,
        ...(e.title !== undefined ? { title: e.title } : {}),
        ...(e.description !== undefined ? { description: e.description } : {}),
        ...(e.avatarUrl !== undefined ? { avatarUrl: e.avatarUrl } : {}),
        streamSeq,
      };
    case 'MessageEdited':
      return { kind: 'edit', conversationId: e.conversationId, seq: e.seq, preview: bodyPreview(e.body), streamSeq };
    case 'MessageDeleted':
      return { kind: 'delete', conversationId: e.conversationId, seq: e.seq, streamSeq };
    case 'MessagesDelivered':
    case 'RolesChanged':
    case 'MessageHidden':
      // Roles are not in the list; a message hidden for one user keeps its list preview.
      return null;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** Per conversation, the newest message of a run (one UPDATE row each). */
export function tips(sent: ReadonlyArray<Extract<ConversationsChange, { kind: 'sent' }>>): ConversationTip[] {
  const out = new Map<string, ConversationTip>();
  for (const s of sent) {
    const cur = out.get(s.conversationId);
    if (!cur || s.seq > cur.lastSeq) {
      out.set(s.conversationId, { conversationId: s.conversationId, lastSeq: s.seq, lastMessage: s.lastMessage, lastActivityAt: s.lastMessage.sentAt, streamSeq: s.streamSeq });
    }
  }
  return [...out.values()];
}

type Sent = Extract<ConversationsChange, { kind: 'sent' }>;
type Read = Extract<ConversationsChange, { kind: 'read' }>;
type Structural = Exclude<ConversationsChange, Sent | Read>;

/** How a batch's changes are written: counts (all sends, then all reads) between the structural changes, which keep their order. */
export type ConversationsStep = { kind: 'counts'; sent: Sent[]; read: Read[] } | { kind: Structural['kind']; items: Structural[] };

/**
 * Pure: the batch's changes as few statements as their order allows. Sends and reads between
 * two structural changes (creation, membership, metadata, edits, deletes) commute: a send adds
 * the new messages past the row's watermarks, and a read recounts exactly from the messages
 * after the new watermark (which never covers a later message: the command service clamps
 * it), so applying all sends first and then all reads gives the rows that applying them in
 * stream order gives. In a 1:1 conversation with receipts they alternate; one statement for
 * each kind per batch instead of one per event.
 */
export function conversationsSteps(changes: readonly ConversationsChange[]): ConversationsStep[] {
  const out: ConversationsStep[] = [];
  let counts: Extract<ConversationsStep, { kind: 'counts' }> | undefined;
  for (const c of changes) {
    if (c.kind === 'sent' || c.kind === 'read') {
      if (!counts) out.push((counts = { kind: 'counts', sent: [], read: [] }));
      if (c.kind === 'sent') counts.sent.push(c);
      else counts.read.push(c);
      continue;
    }
    counts = undefined;
    const last = out[out.length - 1];
    if (last && last.kind === c.kind) (last as { items: Structural[] }).items.push(c);
    else out.push({ kind: c.kind, items: [c] } as ConversationsStep);
  }
  return out;
}

/** Per (conversation, member), the highest read watermark of a run. */
export function readMarks(
  reads: ReadonlyArray<Extract<ConversationsChange, { kind: 'read' }>>,
): Array<{ conversationId: string; userId: string; upToSeq: number; streamSeq: number }> {
  const out = new Map<string, { conversationId: string; userId: string; upToSeq: number; streamSeq: number }>();
  for (const r of reads) {
    const k = `${r.conversationId}\u0000${r.userId}`;
    const cur = out.get(k);
    const streamSeq = Math.max(cur?.streamSeq ?? 0, r.streamSeq);
    if (!cur || r.upToSeq > cur.upToSeq) out.set(k, { conversationId: r.conversationId, userId: r.userId, upToSeq: r.upToSeq, streamSeq });
    else cur.streamSeq = streamSeq;
  }
  return [...out.values()];
}
