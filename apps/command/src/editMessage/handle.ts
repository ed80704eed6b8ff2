import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/** Appends MessageEdited with the target's seq (author only, within CHAT_EDIT_WINDOW). Answers message.edited. */
export function editMessage(ctx: HandlerContext, command: CommandOf<'EditMessage'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
