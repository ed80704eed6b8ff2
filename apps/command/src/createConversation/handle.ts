import type { CommandOf, CommandResult } from '@chat/contracts';
import { answer, decide } from '@chat/domain';
import { handle, type HandlerContext } from '../handler';
import { conversation } from '../kinds';

/** Appends ConversationCreated to the new conversation's subject; the creator gets its id and members. */
export function createConversation(ctx: HandlerContext, command: CommandOf<'CreateConversation'>): Promise<CommandResult> {
  return handle(ctx, {
    subject: ctx.names.subjects.evtConv(command.data.conversationId),
    kind: conversation,
    commandId: command.meta.commandId,
    decide: (state) => decide(command, state),
    answer: (state) => answer(command, state),
  });
}
