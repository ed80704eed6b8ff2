import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/** Appends MemberLeft (a system message with the next seq); the owner hands ownership over first. Answers conversation.changed. */
export function leaveConversation(ctx: HandlerContext, command: CommandOf<'LeaveConversation'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
