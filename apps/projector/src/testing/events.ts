import type { ChatEvent } from '@chat/contracts';

/** Event builders for tests: deterministic ids and times. */
const T0 = Date.parse('2024-05-01T10:00:00.000Z');
export const at = (i: number): string => new Date(T0 + i * 1000).toISOString();

export function created(conversationId: string, members: string[], i = 0, kind: 'direct' | 'group' = 'group'): ChatEvent {
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
  return {
    type: 'MessageSent',
    v: 1,
    conversationId,
    messageId: `m-${conversationId}-${seq}`,
    seq,
    senderId,
    senderDeviceId: opts.device ?? `${senderId}-phone`,
    clientMsgId: `c-${conversationId}-${seq}`,
    body: { text: opts.text ?? `message ${seq} in ${conversationId}` },
    sentAt: at(opts.i ?? seq),
  };
}

export function receipt(type: 'MessagesDelivered' | 'MessagesRead', conversationId: string, userId: string, upToSeq: number, opts: { device?: string; i?: number } = {}): ChatEvent {
  return { type, v: 1, conversationId, userId, deviceId: opts.device ?? `${userId}-phone`, upToSeq, at: at(opts.i ?? 1000 + upToSeq) };
}

