import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import type { ConversationRules } from '../rules';
import type { ConversationState } from '../state';

export function decideCreateConversation(command: CommandOf<'CreateConversation'>, state: ConversationState, rules: ConversationRules): ConversationEvent[] {
  const { data, meta } = command;
  const members = [...new Set(data.members)];
  if (!members.includes(meta.userId)) throw new ChatError('bad_request', 'the creator must be a member');
  if (data.kind === 'direct' && members.length !== 2) {
    throw new ChatError('bad_request', 'a direct conversation has exactly one other member');
  }
  if (data.kind === 'group' && members.length > rules.maxGroupMembers) {
    throw new ChatError('bad_request', `a group has at most ${rules.maxGroupMembers} members`);
  }
  if (state.status === 'active') {
    // Creating a direct conversation again returns it; a retried group create is a no-op.
    const sameDirect = state.kind === 'direct' && data.kind === 'direct' && state.members.has(meta.userId);
    const retriedGroup = state.kind === 'group' && state.createdBy === meta.userId;
    if (sameDirect || retriedGroup) return [];
    throw new ChatError('conflict', 'conversation already exists');
  }
  return [
    {
      type: 'ConversationCreated',
      v: 1,
      conversationId: data.conversationId,
      kind: data.kind,
      ...(data.kind === 'group' && data.title ? { title: data.title } : {}),
      createdBy: meta.userId,
      members: members.map((userId) => ({
        userId,
        role: data.kind === 'group' && userId === meta.userId ? 'owner' : 'member',
      })),
      at: meta.at,
    },
  ];
}
