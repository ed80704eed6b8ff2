import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import { requireActor } from '../guards';
import type { Referenced } from '../rules';
import type { ConversationState } from '../state';
import { canSee, sentKey } from '../state';

export function decideSendMessage(command: CommandOf<'SendMessage'>, state: ConversationState, referenced: Referenced): ConversationEvent[] {
  const { data, meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  if (conv.sent.has(sentKey(meta.userId, data.clientMsgId))) return []; // idempotent retry
  if (data.replyTo !== undefined) {
    // A message the sender cannot see (from before they joined) is reported like an unknown one.
    const target = conv.messages.get(data.replyTo) ?? referenced;
    if (!target || !canSee(actor, target.seq)) throw new ChatError('bad_request', 'replyTo is not a message of this conversation');
  }
  const mentions = data.mentions ? [...new Set(data.mentions)] : [];
  const outsider = mentions.find((userId) => !conv.members.has(userId));
  if (outsider !== undefined) throw new ChatError('bad_request', `mentioned user ${outsider} is not a member of this conversation`);
  return [
    {
      type: 'MessageSent',
      v: 1,
      conversationId: conv.conversationId,
      messageId: data.messageId,
      seq: conv.lastSeq + 1,
      senderId: meta.userId,
      senderDeviceId: meta.deviceId,
      clientMsgId: data.clientMsgId,
      body: data.body,
      ...(data.replyTo !== undefined ? { replyTo: data.replyTo } : {}),
      sentAt: meta.at,
      ...(mentions.length > 0 ? { mentions } : {}),
      ...(data.forwarded ? { forwarded: data.forwarded } : {}),
    },
  ];
}
