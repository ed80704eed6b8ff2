import type { CommandOf, ConversationEvent } from '@chat/contracts';
import { requireActor, requireGroup, requirePermission } from '../guards';
import type { ConversationState } from '../state';

const METADATA = ['title', 'description', 'avatarUrl'] as const;

/**
 * Only the fields that change are in the event; nothing changed, no event. An empty string
 * clears a field. Metadata changes take no timeline seq.
 */
export function decideUpdateConversation(command: CommandOf<'UpdateConversation'>, state: ConversationState): ConversationEvent[] {
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
