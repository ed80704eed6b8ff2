import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import { requireActor, requireGroup, requirePermission } from '../guards';
import { removeActionFor } from '../permissions';
import type { ConversationState } from '../state';

/** The removal takes the next timeline seq: it is shown as a system message. Who may remove whom: docs/permissions.md. */
export function decideRemoveMember(command: CommandOf<'RemoveMember'>, state: ConversationState): ConversationEvent[] {
  const { data, meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  requireGroup(conv);
  if (data.userId === meta.userId) throw new ChatError('bad_request', 'to remove yourself, leave the conversation');
  requirePermission(actor, 'removeMember', 'only the owner and admins can remove members');
  const target = conv.members.get(data.userId);
  if (!target) return []; // not (or no longer) a member: a repeat removes nothing
  const needed = removeActionFor(target.role);
  if (needed === undefined) throw new ChatError('forbidden', 'the owner cannot be removed');
  requirePermission(actor, needed, 'only the owner can remove an admin');
  return [
    {
      type: 'MemberRemoved',
      v: 1,
      conversationId: conv.conversationId,
      seq: conv.lastSeq + 1,
      by: meta.userId,
      userId: data.userId,
      at: meta.at,
    },
  ];
}
