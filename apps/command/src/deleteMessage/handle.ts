import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/** Appends MessageDeleted (scope everyone) or MessageHidden (scope me) with the target's seq. Answers message.deleted. */
export function deleteMessage(ctx: HandlerContext, command: CommandOf<'DeleteMessage'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
