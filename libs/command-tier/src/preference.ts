import type { CommandOf, CommandResult } from '@chat/contracts';
import { preferenceDecider } from '@chat/domain';
import { handle, type HandlerContext } from './handler';
import { preference } from './kinds';
import { currentConversation } from './receipt';

/**
 * Mutes or unmutes the conversation's push notifications for the caller: MemberMuteChanged on
 * the member's own subject chat.pref.<conv>.<user> (never contending with message appends,
 * like receipts), through the same load → decide → append as every aggregate, snapshots
 * included (a mute outlives its event). Membership comes from the conversation's state,
 * refreshed when it looks stale. The answer is the setting as it now is; the same setting
 * again appends nothing.
 */
export async function muteConversation(ctx: HandlerContext, command: CommandOf<'MuteConversation'>): Promise<CommandResult> {
  const { conversationId } = command.data;
  const userId = command.meta.userId;
  const conv = await currentConversation(ctx, conversationId, (s) => s.status !== 'active' || !s.members.has(userId));
  return handle(ctx, {
    subject: ctx.names.subjects.pref(conversationId, userId),
    kind: preference,
    commandId: command.meta.commandId,
    decide: (state) => preferenceDecider.decide(command, state, { conversation: conv.state }),
    answer: (now) => ({ kind: 'conversation.muted', conversationId, muted: now.muted, ...(now.until ? { until: now.until } : {}) }),
  });
}
