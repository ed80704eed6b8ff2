import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import type { ConversationRules, Referenced } from './decide';
import { commandTime, formatDuration, requireActor } from './guards';
import { can } from './permissions';
import type { ActiveConversation, MemberRecord, MessageRecord } from './state';
import { canSee, type ConversationState } from './state';

/**
 * Edits and deletes of a message keep its seq: the events carry the target's seq, and the
 * timeline does not advance.
 */

/**
 * The message, if the member can see it (sent after they joined); otherwise not_found. One the
 * state no longer keeps comes as `referenced` (looked up in the stream; its `deleted` is not
 * known there, so a second delete of it appends a second MessageDeleted, which the read models
 * take as a no-op).
 */
function visibleMessage(conv: ActiveConversation, member: MemberRecord, messageId: string, referenced: Referenced): MessageRecord {
  const rec = conv.messages.get(messageId) ?? referenced;
  if (!rec || !canSee(member, rec.seq)) throw new ChatError('not_found', 'no such message');
  return rec;
}

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

/**
 * `everyone`: the author within the delete window, an admin or the owner at any time; a
 * message already deleted produces nothing. `me`: any member who can see the message hides it
 * for themselves; the state keeps no record of hides, so a repeat emits another MessageHidden
 * (the read model upserts it).
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
