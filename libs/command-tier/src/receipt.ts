import type { CommandResult } from '@chat/contracts';
import { receiptDecider, type ReceiptCommand } from '@chat/domain';
import type { ConversationState } from '@chat/domain';
import { handle, type HandlerContext } from './handler';
import { conversation, receipt } from './kinds';

/**
 * The conversation's state for a member command (receipt, preference) that runs on its own key:
 * the cached state when it satisfies the command, otherwise loaded or refreshed inside the
 * conversation's queue (the only place its cached state may change). Read, never written.
 */
export async function currentConversation(
  ctx: HandlerContext,
  conversationId: string,
  stale: (s: ConversationState) => boolean,
): Promise<{ state: ConversationState }> {
  const subject = ctx.names.subjects.evtConv(conversationId);
  const cached = ctx.aggregates.peek<ConversationState>(subject);
  if (cached && !stale(cached.state)) return cached;
  return ctx.exclusive(conversationId, async () => {
    const c = await ctx.aggregates.get(subject, conversation);
    return c.fresh || !stale(c.state) ? c : ctx.aggregates.refresh(subject, conversation, c);
  });
}

/**
 * Moves one member's watermark on its own subject (chat.evt.rcpt.<conv>.<user>), so receipts
 * never contend with message appends. The conversation state is read, not written: it gives
 * membership and the last seq the watermark is clamped to, refreshed when it looks stale.
 */
export async function moveWatermark(ctx: HandlerContext, command: ReceiptCommand): Promise<CommandResult> {
  const { conversationId, upToSeq } = command.data;
  const stale = (s: ConversationState) => s.status !== 'active' || !s.members.has(command.meta.userId) || upToSeq > s.lastSeq;
  const conv = await currentConversation(ctx, conversationId, stale);
  return handle(ctx, {
    subject: ctx.names.subjects.evtRcpt(conversationId, command.meta.userId),
    kind: receipt,
    commandId: command.meta.commandId,
    decide: (state) => receiptDecider.decide(command, state, { conversation: conv.state }),
    answer: () => ({ kind: 'accepted' }),
  });
}
