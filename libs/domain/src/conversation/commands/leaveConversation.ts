import type { CommandOf, ConversationEvent } from '@chat/contracts';
import { requireActor, requireGroup, requirePermission } from '../guards';
import type { ConversationState } from '../state';

/** The leave takes the next timeline seq: it is shown as a system message. The owner hands ownership over first. */
export function decideLeaveConversation(command: CommandOf<'LeaveConversation'>, state: ConversationState): ConversationEvent[] {
  const { meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  requireGroup(conv);
  requirePermission(actor, 'leave', 'the owner cannot leave: hand ownership over first (make another member owner)');
  return [{ type: 'MemberLeft', v: 1, conversationId: conv.conversationId, seq: conv.lastSeq + 1, userId: meta.userId, at: meta.at }];
}
