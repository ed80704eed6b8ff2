import type { CommandResult } from '@chat/contracts';
import { decideReceipt, type ReceiptCommand } from '@chat/domain';
import { handle, type HandlerContext } from './handler';
import { conversation, receipt } from './kinds';

/**
 * Moves one member's watermark on its own subject (chat.evt.rcpt.<conv>.<user>), so receipts
 * never contend with message appends. The conversation state is read, not written: it gives
 * membership and the last seq the watermark is clamped to, refreshed when it looks stale.
 */
export async function moveWatermark(ctx: HandlerContext, command: ReceiptCommand): Promise<CommandResult> {
  const { conversationId, upToSeq } = command.data;
  const convSubject = ctx.names.subjects.evtConv(conversationId);
  let conv = await ctx.aggregates.get(convSubject, conversation);
  const s = conv.state;
  if (!conv.fresh && (s.status !== 'active' || !s.members.has(command.meta.userId) || upToSeq > s.lastSeq)) {
    conv = await ctx.aggregates.refresh(convSubject, conversation, conv);
  }
  return handle(ctx, {
    subject: ctx.names.subjects.evtRcpt(conversationId, command.meta.userId),
    kind: receipt,
    commandId: command.meta.commandId,
    decide: (state) => decideReceipt(command, state, conv.state),
    answer: () => ({ kind: 'accepted' }),
  });
}
