import type { StoredEvent } from '../projection';

export const PREVIEW_CHARS = 100;

/** The `last_message` shown in the conversation list. */
export interface LastMessage {
  messageId: string;
  seq: number;
  senderId: string;
  preview: string;
  sentAt: string;
}

/** A user_conversations row created for one member. */
export interface UserConversationRow {
  userId: string;
  conversationId: string;
  kind: 'direct' | 'group';
  title: string | null;
  members: string[];
  lastActivityAt: string;
}

/** Latest message of one conversation within a run of messages. */
export interface ConversationTip {
  conversationId: string;
  lastSeq: number;
  lastMessage: LastMessage;
  lastActivityAt: string;
}

/** What one event changes in the conversation list. */
export type ConversationsChange =
  | { kind: 'created'; rows: UserConversationRow[] }
  | { kind: 'sent'; conversationId: string; seq: number; senderId: string; lastMessage: LastMessage }
  | { kind: 'read'; conversationId: string; userId: string; upToSeq: number };

/** First characters of a text body, cut on code points so no surrogate pair is split. */
export function preview(text: string): string {
  if (text.length <= PREVIEW_CHARS) return text;
  return Array.from(text).slice(0, PREVIEW_CHARS).join('');
}

export function conversationsChange({ event: e }: StoredEvent): ConversationsChange | null {
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
        })),
      };
    }
    case 'MessageSent':
      return {
        kind: 'sent',
        conversationId: e.conversationId,
        seq: e.seq,
        senderId: e.senderId,
        lastMessage: { messageId: e.messageId, seq: e.seq, senderId: e.senderId, preview: preview(e.body.text), sentAt: e.sentAt },
      };
    case 'MessagesRead':
      return { kind: 'read', conversationId: e.conversationId, userId: e.userId, upToSeq: e.upToSeq };
    case 'MessagesDelivered':
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
      out.set(s.conversationId, { conversationId: s.conversationId, lastSeq: s.seq, lastMessage: s.lastMessage, lastActivityAt: s.lastMessage.sentAt });
    }
  }
  return [...out.values()];
}

/** Per (conversation, member), the highest read watermark of a run. */
export function readMarks(reads: ReadonlyArray<Extract<ConversationsChange, { kind: 'read' }>>): Array<{ conversationId: string; userId: string; upToSeq: number }> {
  const out = new Map<string, { conversationId: string; userId: string; upToSeq: number }>();
  for (const r of reads) {
    const k = `${r.conversationId}\u0000${r.userId}`;
    const cur = out.get(k);
    if (!cur || r.upToSeq > cur.upToSeq) out.set(k, { conversationId: r.conversationId, userId: r.userId, upToSeq: r.upToSeq });
  }
  return [...out.values()];
}
