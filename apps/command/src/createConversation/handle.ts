import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/** Appends ConversationCreated to the new conversation's subject; the creator gets its id and members. */
export function createConversation(ctx: HandlerContext, command: CommandOf<'CreateConversation'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
