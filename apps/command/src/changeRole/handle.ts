import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/** Appends RolesChanged (owner only; a hand-over changes two roles). Answers conversation.changed. */
export function changeRole(ctx: HandlerContext, command: CommandOf<'ChangeRole'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
