import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/** Appends MembersAdded (a system message with the next seq) for the users not yet in the group; answers conversation.changed. */
export function addMembers(ctx: HandlerContext, command: CommandOf<'AddMembers'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
