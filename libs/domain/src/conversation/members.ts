import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import type { ConversationRules } from './decide';
import { requireActor, requireGroup, requirePermission } from './guards';
import { removeActionFor } from './permissions';
import type { ConversationState } from './state';

/**
 * Membership, roles and metadata of a group (docs/permissions.md). Joins and leaves take the
 * next timeline seq (they are shown as system messages); role and metadata changes take none.
 */

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

export function decideLeave(command: CommandOf<'LeaveConversation'>, state: ConversationState): ConversationEvent[] {
  const { meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  requireGroup(conv);
  requirePermission(actor, 'leave', 'the owner cannot leave: hand ownership over first (make another member owner)');
  return [{ type: 'MemberLeft', v: 1, conversationId: conv.conversationId, seq: conv.lastSeq + 1, userId: meta.userId, at: meta.at }];
}

/**
 * Only the owner changes roles. Making someone `owner` hands ownership over: one RolesChanged
 * with both changes (the target becomes owner, the old owner admin). A role the target already
 * has changes nothing and is answered for any member, so that a repeated hand-over (whose
 * sender is no longer owner) answers like the first.
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

const METADATA = ['title', 'description', 'avatarUrl'] as const;

/** Only the fields that change are in the event; nothing changed, no event. An empty string clears a field. */
export function decideUpdate(command: CommandOf<'UpdateConversation'>, state: ConversationState): ConversationEvent[] {
  const { data, meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  requireGroup(conv, 'direct conversations have no title, description or avatar');
  requirePermission(actor, 'updateMetadata', 'only the owner and admins can change the title, description or avatar');
  const changed: Partial<Record<(typeof METADATA)[number], string>> = {};
  for (const field of METADATA) {
    const value = data[field];
    if (value !== undefined && value !== (conv[field] ?? '')) changed[field] = value;
  }
  if (Object.keys(changed).length === 0) return [];
  return [{ type: 'ConversationUpdated', v: 1, conversationId: conv.conversationId, by: meta.userId, ...changed, at: meta.at }];
}
