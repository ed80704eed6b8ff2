import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import { requireActor, requireGroup, requirePermission } from '../guards';
import type { ConversationState } from '../state';

/**
 * Only the owner changes roles. Making someone `owner` hands ownership over: one RolesChanged
 * with both changes (the target becomes owner, the old owner admin). A role the target already
 * has changes nothing and is answered for any member, so that a repeated hand-over (whose
 * sender is no longer owner) answers like the first. Role changes take no timeline seq.
 */
export function decideChangeRole(command: CommandOf<'ChangeRole'>, state: ConversationState): ConversationEvent[] {
  const { data, meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  requireGroup(conv);
  const target = conv.members.get(data.userId);
  if (!target) throw new ChatError('not_found', `${data.userId} is not a member of this conversation`);
  if (target.role === data.role) return [];
  requirePermission(actor, 'changeRole', 'only the owner can change roles');
  if (data.userId === meta.userId) {
    throw new ChatError('bad_request', 'the owner keeps the role until handing ownership over (make another member owner)');
  }
  const changes =
    data.role === 'owner'
      ? [
          { userId: data.userId, role: 'owner' as const },
          { userId: meta.userId, role: 'admin' as const },
        ]
      : [{ userId: data.userId, role: data.role }];
  return [{ type: 'RolesChanged', v: 1, conversationId: conv.conversationId, by: meta.userId, changes, at: meta.at }];
}
