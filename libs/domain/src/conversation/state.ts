import type { MessageBody, Role } from '@chat/contracts';

export interface SentRecord {
  messageId: string;
  seq: number;
  sentAt: string;
}

export interface ActiveConversation {
  status: 'active';
  conversationId: string;
  kind: 'direct' | 'group';
  title?: string;
  createdBy: string;
  members: Map<string, { role: Role }>;
  /** Highest message seq; seqs are dense from 1. */
  lastSeq: number;
  /** Time of the newest event, used to age out idempotency records. */
  lastEventAt: string;
  /**
   * `${senderId}\u0000${clientMsgId}` → what the first send produced, kept for the idempotency
   * window (24 h). Insertion ordered, so ageing out is a walk from the front.
   */
  sent: Map<string, SentRecord>;
  /** messageId → seq, to validate replies. */
  seqByMessageId: Map<string, number>;
  lastBody?: MessageBody;
}

export type ConversationState = { status: 'none' } | ActiveConversation;

export const initialState = (): ConversationState => ({ status: 'none' });

export const sentKey = (senderId: string, clientMsgId: string): string => `${senderId}\u0000${clientMsgId}`;
