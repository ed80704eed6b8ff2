import { z } from 'zod';
import { ConversationId, ConversationKind, MessageId, PositiveSeq, UserId } from './ids';

/**
 * One push job on CHAT_NOTIFY (`chat.notify.<userId>`): one recipient of one message who had
 * no connected device when the projector routed it. `jobId` = `<eventSeq>:<userId>` is also
 * its Nats-Msg-Id, so a re-routed event queues nothing twice. The job never carries the text;
 * with CHAT_PUSH_PREVIEW on, the notifier reads it from the read model for the push itself.
 */
export const NotifyJob = z.object({
  v: z.literal(1),
  jobId: z.string(),
  userId: UserId,
  conversationId: ConversationId,
  conversationKind: ConversationKind.optional(),
  conversationTitle: z.string().optional(),
  messageId: MessageId,
  seq: PositiveSeq,
  senderId: UserId,
  sentAt: z.string(),
  /** CHAT_EVENTS stream sequence of the MessageSent event. */
  eventSeq: z.number().int().positive(),
  /** Filled in by the notifier (CHAT_PUSH_PREVIEW), never on the stream. */
  text: z.string().optional(),
});
export type NotifyJob = z.infer<typeof NotifyJob>;

export const notifyJobId = (eventSeq: number, userId: string): string => `${eventSeq}:${userId}`;
