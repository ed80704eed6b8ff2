import type { OrderedMap } from 'immutable';
import { LIMITS, type Role, type ConversationKind } from '@chat/contracts';
import type { Recent } from './recent';

export interface SentRecord {
  readonly messageId: string;
  readonly seq: number;
  readonly sentAt: string;
}

export interface MemberRecord {
  readonly role: Role;
  /**
   * The last seq before the member joined (0 for the members a conversation is created with).
   * A member sees seq > joinedAfterSeq: their own join (a system message) and everything after.
   */
  readonly joinedAfterSeq: number;
}

/** What decisions about one message need; never its body. */
export interface MessageRecord {
  readonly seq: number;
  readonly senderId: string;
  /** Epoch milliseconds of `sentAt`, for the edit and delete windows. */
  readonly sentAtMs: number;
  /** Deleted for everyone. */
  readonly deleted: boolean;
}

/**
 * A conversation as decisions need it. Immutable: `evolve` returns a new state that shares what
 * did not change with the old one (persistent collections), so a state can be kept, compared or
 * dropped after a failed append without copying it first.
 */
export interface ActiveConversation {
  readonly status: 'active';
  readonly conversationId: string;
  readonly kind: ConversationKind;
  readonly title?: string;
  readonly description?: string;
  readonly avatarUrl?: string;
  readonly createdBy: string;
  /** Time of ConversationCreated. */
  readonly createdAt: string;
  /** In the order members joined. */
  readonly members: OrderedMap<string, MemberRecord>;
  /** Highest timeline seq (messages and system messages); seqs are dense from 1. */
  readonly lastSeq: number;
  /** Time of the newest event, used to age out idempotency records. */
  readonly lastEventAt: string;
  /** The newest message (system messages aside): what a list row shows once the events are gone. */
  readonly lastMessage?: { messageId: string; seq: number; senderId: string; sentAt: string };
  /**
   * `${senderId}\u0000${clientMsgId}` → what the first send produced, kept for the idempotency
   * window (24 h, at most `StateLimits.maxSent` entries), oldest first.
   */
  readonly sent: Recent<SentRecord>;
  /**
   * messageId → its record, for replies, edits and deletes inside their windows (at most
   * `StateLimits.maxMessages`); an older message is looked up in the stream when a command
   * names it (see `decide`'s `referenced`). System messages (joins, leaves) have no messageId,
   * so they can never be edited or deleted.
   */
  readonly messages: Recent<MessageRecord>;
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
