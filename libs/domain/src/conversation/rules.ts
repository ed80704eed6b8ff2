import { LIMITS } from '@chat/contracts';
import type { MessageRecord } from './state';

export interface ConversationRules {
  /** Largest group, the creator included (CHAT_MAX_GROUP_MEMBERS). */
  maxGroupMembers: number;
  /** How long the author may edit a message (CHAT_EDIT_WINDOW). */
  editWindowMs: number;
  /** How long the author may delete a message for everyone (CHAT_DELETE_WINDOW); admins and the owner: always. */
  deleteWindowMs: number;
}
export const DEFAULT_RULES: ConversationRules = {
  maxGroupMembers: LIMITS.defaultMaxGroupMembers,
  editWindowMs: LIMITS.defaultEditWindowMs,
  deleteWindowMs: LIMITS.defaultDeleteWindowMs,
};

/**
 * The message a command names (reply target, edited or deleted message) when the state no longer
 * keeps it (older than its windows): its record as the stream has it, found by the command
 * service before deciding, or undefined when there is no such message.
 */
export type Referenced = MessageRecord | undefined;
