import type { CommandOf, CommandResult } from '@chat/contracts';
import type { HandlerContext } from '../handler';
import { moveWatermark } from '../receipt';

/** The member's delivered watermark, clamped to the last message. */
export function markDelivered(ctx: HandlerContext, command: CommandOf<'MarkDelivered'>): Promise<CommandResult> {
  return moveWatermark(ctx, command);
}
