import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import { commandTime, formatDuration, requireActor, visibleMessage } from '../guards';
import { can } from '../permissions';
import type { ConversationRules, Referenced } from '../rules';
import type { ConversationState } from '../state';

/**
 * `everyone`: the author within the delete window, an admin or the owner at any time; a
 * message already deleted produces nothing. `me`: any member who can see the message hides it
 * for themselves; the state keeps no record of hides, so a repeat emits another MessageHidden
 * (the read model upserts it). The events carry the target's seq; the timeline does not advance.
 */
export function decideDeleteMessage(command: CommandOf<'DeleteMessage'>, state: ConversationState, rules: ConversationRules, referenced?: Referenced): ConversationEvent[] {
  const { data, meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  const rec = visibleMessage(conv, actor, data.messageId, referenced);
  const base = { v: 1 as const, conversationId: conv.conversationId, messageId: data.messageId, seq: rec.seq, at: meta.at };
  if (data.scope === 'me') {
    if (!can(actor.role, 'hideMessage')) throw new ChatError('forbidden', 'cannot hide messages');
    return [{ type: 'MessageHidden', ...base, userId: meta.userId }];
  }
  if (rec.deleted) return [];
  const own = rec.senderId === meta.userId;
  const inWindow = commandTime(meta) - rec.sentAtMs <= rules.deleteWindowMs;
  const allowed = (own && inWindow && can(actor.role, 'deleteOwnMessage')) || can(actor.role, 'deleteAnyMessage');
  if (!allowed) {
    throw new ChatError(
      'forbidden',
      own
        ? `the delete window (${formatDuration(rules.deleteWindowMs)}) has passed`
        : 'only the author, an admin or the owner can delete a message for everyone',
    );
  }
  return [{ type: 'MessageDeleted', ...base, by: meta.userId }];
}
