import { LIMITS, type Role, type ConversationKind } from '@chat/contracts';

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
  kind: ConversationKind;
  title?: string;
  description?: string;
  avatarUrl?: string;
  createdBy: string;
  /** Time of ConversationCreated. */
  createdAt: string;
  members: Map<string, MemberRecord>;
  /** Highest timeline seq (messages and system messages); seqs are dense from 1. */
  lastSeq: number;
  /** Time of the newest event, used to age out idempotency records. */
  lastEventAt: string;
  /** The newest message (system messages aside): what a list row shows once the events are gone. */
  lastMessage?: { messageId: string; seq: number; senderId: string; sentAt: string };
  /**
   * `${senderId}\u0000${clientMsgId}` → what the first send produced, kept for the idempotency
   * window (24 h, at most `StateLimits.maxSent` entries). Insertion ordered, so ageing out is a
   * walk from the front.
   */
  sent: Map<string, SentRecord>;
  /**
   * messageId → its record, for replies, edits and deletes inside their windows (at most
   * `StateLimits.maxMessages`); an older message is looked up in the stream when a command
   * names it (see `decide`'s `referenced`). System messages (joins, leaves) have no messageId,
   * so they can never be edited or deleted.
   */
  messages: Map<string, MessageRecord>;
}

export type ConversationState = { status: 'none' } | ActiveConversation;

export const initialState = (): ConversationState => ({ status: 'none' });

/**
 * How much of a conversation's recent past its state keeps: enough for every decision inside
 * the windows, nothing older, so a state's size is bounded whatever the conversation's age and
 * rate (members aside, which CHAT_MAX_GROUP_MEMBERS bounds).
 */
export interface StateLimits {
  /** Message records younger than this (the longer of the edit and delete windows)… */
  messageWindowMs: number;
  /** …and at most this many of them. */
  maxMessages: number;
  /** Client ids younger than this (the idempotency window)… */
  sentWindowMs: number;
  /** …and at most this many of them. */
  maxSent: number;
}

export const DEFAULT_STATE_LIMITS: StateLimits = {
  messageWindowMs: Math.max(LIMITS.defaultEditWindowMs, LIMITS.defaultDeleteWindowMs),
  maxMessages: LIMITS.recentMessageRecords,
  sentWindowMs: LIMITS.clientMsgIdWindowMs,
  maxSent: LIMITS.clientMsgIdWindowEntries,
};

export const sentKey = (senderId: string, clientMsgId: string): string => `${senderId}\u0000${clientMsgId}`;

/** Whether a member may see the timeline entry at `seq`: members added later see from their join onward. */
export const canSee = (member: MemberRecord, seq: number): boolean => seq > member.joinedAfterSeq;
