import type { CommandOf, CommandResult } from '@chat/contracts';
import type { HandlerContext } from '../handler';
import { moveWatermark } from '../receipt';

/** The member's read watermark (read implies delivered), clamped to the last message. */
export function markRead(ctx: HandlerContext, command: CommandOf<'MarkRead'>): Promise<CommandResult> {
  return moveWatermark(ctx, command);
}
