import type { ChatEvent, ConversationKind, Role } from '@chat/contracts';
import { messageSent } from '@chat/domain/fixtures';

/** Event builders for tests: deterministic ids and times. */
const T0 = Date.parse('2024-05-01T10:00:00.000Z');
export const at = (i: number): string => new Date(T0 + i * 1000).toISOString();

export function created(conversationId: string, members: string[], i = 0, kind: ConversationKind = 'group'): ChatEvent {
  return {
    type: 'ConversationCreated',
    v: 1,
    conversationId,
    kind,
    ...(kind === 'group' ? { title: `title ${conversationId}` } : {}),
    createdBy: members[0]!,
    members: members.map((userId, k) => ({ userId, role: k === 0 && kind === 'group' ? 'owner' : 'member' })),
    at: at(i),
  };
}

export function sent(conversationId: string, seq: number, senderId: string, opts: { device?: string; text?: string; i?: number } = {}): ChatEvent {
  return messageSent({
    conversationId,
    seq,
    senderId,
    senderDeviceId: opts.device,
    clientMsgId: `c-${conversationId}-${seq}`,
    body: { text: opts.text ?? `message ${seq} in ${conversationId}` },
    sentAt: at(opts.i ?? seq),
  });
}

export function receipt(type: 'MessagesDelivered' | 'MessagesRead', conversationId: string, userId: string, upToSeq: number, opts: { device?: string; i?: number } = {}): ChatEvent {
  return { type, v: 1, conversationId, userId, deviceId: opts.device ?? `${userId}-phone`, upToSeq, at: at(opts.i ?? 1000 + upToSeq) };
}


export function sentWith(conversationId: string, seq: number, senderId: string, extra: { mentions?: string[]; forwarded?: { conversationId: string; messageId: string }; i?: number; device?: string; text?: string }): ChatEvent {
  const { mentions, forwarded, ...opts } = extra;
  return messageSent({ ...(sent(conversationId, seq, senderId, opts) as Extract<ChatEvent, { type: 'MessageSent' }>), mentions, forwarded });
}

export function added(conversationId: string, seq: number, by: string, userIds: string[], i = seq): ChatEvent {
  return { type: 'MembersAdded', v: 1, conversationId, seq, by, members: userIds.map((userId) => ({ userId, role: 'member' as const })), at: at(i) };
}

export function removed(conversationId: string, seq: number, by: string, userId: string, i = seq): ChatEvent {
  return { type: 'MemberRemoved', v: 1, conversationId, seq, by, userId, at: at(i) };
}

export function left(conversationId: string, seq: number, userId: string, i = seq): ChatEvent {
  return { type: 'MemberLeft', v: 1, conversationId, seq, userId, at: at(i) };
}

export function rolesChanged(conversationId: string, by: string, changes: Array<{ userId: string; role: Role }>, i = 500): ChatEvent {
  return { type: 'RolesChanged', v: 1, conversationId, by, changes, at: at(i) };
}

export function updated(conversationId: string, by: string, meta: { title?: string; description?: string; avatarUrl?: string }, i = 500): ChatEvent {
  return { type: 'ConversationUpdated', v: 1, conversationId, by, ...meta, at: at(i) };
}

export function edited(conversationId: string, seq: number, by: string, text: string, i = 600): ChatEvent {
  return { type: 'MessageEdited', v: 1, conversationId, messageId: `m-${conversationId}-${seq}`, seq, by, body: { text }, at: at(i) };
}

export function deleted(conversationId: string, seq: number, by: string, i = 700): ChatEvent {
  return { type: 'MessageDeleted', v: 1, conversationId, messageId: `m-${conversationId}-${seq}`, seq, by, at: at(i) };
}

export function hidden(conversationId: string, seq: number, userId: string, i = 800): ChatEvent {
  return { type: 'MessageHidden', v: 1, conversationId, messageId: `m-${conversationId}-${seq}`, seq, userId, at: at(i) };
}
