import { z } from 'zod';
import { ConversationId, MessageId, PositiveSeq, UserId } from '@chat/contracts';

/**
 * One push job on CHAT_NOTIFY (`chat.notify.<userId>`): one offline recipient of one message.
 * `jobId` = `<eventSeq>:<userId>` is also its Nats-Msg-Id. The message text is only in the job
 * when CHAT_PUSH_PREVIEW is on, so by default no message text leaves CHAT_EVENTS.
 */
export const NotifyJob = z.object({
  v: z.literal(1),
  jobId: z.string(),
  userId: UserId,
  conversationId: ConversationId,
  conversationKind: z.enum(['direct', 'group']).optional(),
  conversationTitle: z.string().optional(),
  messageId: MessageId,
  seq: PositiveSeq,
  senderId: UserId,
  sentAt: z.string(),
  /** CHAT_EVENTS stream sequence of the MessageSent event. */
  eventSeq: z.number().int().positive(),
  text: z.string().optional(),
});
export type NotifyJob = z.infer<typeof NotifyJob>;

export const jobId = (eventSeq: number, userId: string): string => `${eventSeq}:${userId}`;
