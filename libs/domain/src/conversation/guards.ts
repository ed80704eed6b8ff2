import { ChatError, type CommandMeta } from '@chat/contracts';
import { can, type Action } from './permissions';
import type { Referenced } from './rules';
import { canSee, type ActiveConversation, type ConversationState, type MemberRecord, type MessageRecord } from './state';

/** The conversation, if it exists and the user is in it; otherwise not_found / forbidden. */
export function requireMember(state: ConversationState, userId: string): ActiveConversation {
  if (state.status !== 'active') throw new ChatError('not_found', 'no such conversation');
  if (!state.members.has(userId)) throw new ChatError('forbidden', 'not a member of this conversation');
  return state;
}

/** The conversation and the acting member's record. */
export function requireActor(state: ConversationState, userId: string): { conv: ActiveConversation; actor: MemberRecord } {
  const conv = requireMember(state, userId);
  return { conv, actor: conv.members.get(userId)! };
}

/** Membership, roles and metadata exist only in groups. */
export function requireGroup(conv: ActiveConversation, message = 'direct conversations have fixed members'): void {
  if (conv.kind !== 'group') throw new ChatError('bad_request', message);
}

export function requirePermission(actor: MemberRecord, action: Action, message: string): void {
  if (!can(actor.role, action)) throw new ChatError('forbidden', message);
}

/**
 * The message, if the member can see it (sent after they joined); otherwise not_found. One the
 * state no longer keeps comes as `referenced` (looked up in the stream; its `deleted` is not
 * known there, so a second delete of it appends a second MessageDeleted, which the read models
 * take as a no-op).
 */
export function visibleMessage(conv: ActiveConversation, member: MemberRecord, messageId: string, referenced: Referenced): MessageRecord {
  const rec = conv.messages.get(messageId) ?? referenced;
  if (!rec || !canSee(member, rec.seq)) throw new ChatError('not_found', 'no such message');
  return rec;
}

/** The command's time (assigned by the edge) in epoch milliseconds. */
export function commandTime(meta: Pick<CommandMeta, 'at'>): number {
  const ms = Date.parse(meta.at);
  if (Number.isNaN(ms)) throw new ChatError('bad_request', 'invalid command time');
  return ms;
}

/** 900000 → "15m", 3600000 → "1h", 1500 → "1500ms": how windows are named in messages. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
