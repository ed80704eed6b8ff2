import type { CommandOf, CommandResult } from '@chat/contracts';
import { answer, decide } from '@chat/domain';
import { handle, type HandlerContext } from '../handler';
import { conversation } from '../kinds';

/**
 * Appends MessageSent with the next seq. A clientMsgId the conversation already holds appends
 * nothing and answers with the original messageId and seq.
 */
export function sendMessage(ctx: HandlerContext, command: CommandOf<'SendMessage'>): Promise<CommandResult> {
  return handle(ctx, {
    subject: ctx.names.subjects.evtConv(command.data.conversationId),
    kind: conversation,
    commandId: command.meta.commandId,
    decide: (state) => decide(command, state),
    answer: (state) => answer(command, state),
  });
}
