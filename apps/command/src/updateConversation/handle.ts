import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/** Appends ConversationUpdated with the fields that change, if any. Answers conversation.changed. */
export function updateConversation(ctx: HandlerContext, command: CommandOf<'UpdateConversation'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
