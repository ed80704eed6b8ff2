import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import { commandTime, formatDuration, requireActor, visibleMessage } from '../guards';
import { can } from '../permissions';
import type { ConversationRules, Referenced } from '../rules';
import type { ConversationState } from '../state';

/** The author within the edit window. The event carries the target's seq; the timeline does not advance. */
export function decideEditMessage(command: CommandOf<'EditMessage'>, state: ConversationState, rules: ConversationRules, referenced?: Referenced): ConversationEvent[] {
  const { data, meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  const rec = visibleMessage(conv, actor, data.messageId, referenced);
  if (rec.deleted) throw new ChatError('not_found', 'the message was deleted');
  if (rec.senderId !== meta.userId || !can(actor.role, 'editOwnMessage')) throw new ChatError('forbidden', 'only the author can edit a message');
  if (commandTime(meta) - rec.sentAtMs > rules.editWindowMs) {
    throw new ChatError('forbidden', `the edit window (${formatDuration(rules.editWindowMs)}) has passed`);
  }
  return [
    {
      type: 'MessageEdited',
      v: 1,
      conversationId: conv.conversationId,
      messageId: data.messageId,
      seq: rec.seq,
      by: meta.userId,
      body: data.body,
      at: meta.at,
    },
  ];
}
