import type { CommandResult } from '@chat/contracts';
import { answer, decide, type ConversationCommand } from '@chat/domain';
import { handle, type HandlerContext } from './handler';
import { conversation, isConversationEvent } from './kinds';

/**
 * The one shape of every conversation command: decide on the conversation's state with the
 * configured rules, append to chat.evt.conv.<id>, answer from the state after the events.
 */
export function runConversationCommand(ctx: HandlerContext, command: ConversationCommand): Promise<CommandResult> {
  return handle(ctx, {
    subject: ctx.names.subjects.evtConv(command.data.conversationId),
    kind: conversation,
    commandId: command.meta.commandId,
    decide: (state) => decide(command, state, ctx.rules),
    answer: (state, events) => answer(command, state, events.filter(isConversationEvent)),
  });
}
