import type { CommandOf, CommandResult } from '@chat/contracts';
import { runConversationCommand } from '../conversationCommand';
import type { HandlerContext } from '../handler';

/**
 * Appends MessageSent with the next seq. A clientMsgId the conversation already holds appends
 * nothing and answers with the original messageId and seq. Mentions must be members; a
 * forwarded message (checked by the edge) keeps its origin.
 */
export function sendMessage(ctx: HandlerContext, command: CommandOf<'SendMessage'>): Promise<CommandResult> {
  return runConversationCommand(ctx, command);
}
