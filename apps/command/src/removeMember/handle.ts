import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/** Appends MemberRemoved (a system message with the next seq); removing a non-member changes nothing. Answers conversation.changed. */
export function removeMember(ctx: HandlerContext, command: CommandOf<'RemoveMember'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
