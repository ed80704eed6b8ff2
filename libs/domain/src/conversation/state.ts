import type { Role } from '@chat/contracts';

export interface SentRecord {
  messageId: string;
  seq: number;
  sentAt: string;
}

export interface MemberRecord {
  role: Role;
  /**
   * The last seq before the member joined (0 for the members a conversation is created with).
   * A member sees seq > joinedAfterSeq: their own join (a system message) and everything after.
   */
  joinedAfterSeq: number;
}

/** What decisions about one message need; never its body. */
export interface MessageRecord {
  seq: number;
  senderId: string;
  /** Epoch milliseconds of `sentAt`, for the edit and delete windows. */
  sentAtMs: number;
  /** Deleted for everyone. */
  deleted: boolean;
}

export interface ActiveConversation {
  status: 'active';
  conversationId: string;
  kind: 'direct' | 'group';
  title?: string;
  description?: string;
  avatarUrl?: string;
  createdBy: string;
  members: Map<string, MemberRecord>;
  /** Highest timeline seq (messages and system messages); seqs are dense from 1. */
  lastSeq: number;
  /** Time of the newest event, used to age out idempotency records. */
  lastEventAt: string;
  /**
   * `${senderId}\u0000${clientMsgId}` → what the first send produced, kept for the idempotency
   * window (24 h). Insertion ordered, so ageing out is a walk from the front.
   */
  sent: Map<string, SentRecord>;
  /**
   * messageId → its record, for replies, edits and deletes. System messages (joins, leaves)
   * have no messageId, so they can never be edited or deleted.
   */
  messages: Map<string, MessageRecord>;
}

export type ConversationState = { status: 'none' } | ActiveConversation;

export const initialState = (): ConversationState => ({ status: 'none' });

export const sentKey = (senderId: string, clientMsgId: string): string => `${senderId}\u0000${clientMsgId}`;

/** Whether a member may see the timeline entry at `seq`: members added later see from their join onward. */
export const canSee = (member: MemberRecord, seq: number): boolean => seq > member.joinedAfterSeq;
