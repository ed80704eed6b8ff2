import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import { requireActor, requireGroup, requirePermission } from '../guards';
import type { ConversationRules } from '../rules';
import type { ConversationState } from '../state';

/** The join takes the next timeline seq: it is shown as a system message. Who may add: docs/permissions.md. */
export function decideAddMembers(command: CommandOf<'AddMembers'>, state: ConversationState, rules: ConversationRules): ConversationEvent[] {
  const { data, meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  requireGroup(conv);
  requirePermission(actor, 'addMembers', 'only the owner and admins can add members');
  const added = [...new Set(data.userIds)].filter((userId) => !conv.members.has(userId));
  if (added.length === 0) return []; // all of them are members already
  if (conv.members.size + added.length > rules.maxGroupMembers) {
    throw new ChatError('bad_request', `a group has at most ${rules.maxGroupMembers} members (it has ${conv.members.size}, adding ${added.length})`);
  }
  return [
    {
      type: 'MembersAdded',
      v: 1,
      conversationId: conv.conversationId,
      seq: conv.lastSeq + 1,
      by: meta.userId,
      members: added.map((userId) => ({ userId, role: 'member' as const })),
      at: meta.at,
    },
  ];
}
