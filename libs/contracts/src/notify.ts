import { z } from 'zod';
import { ConversationId, ConversationKind, MessageId, PositiveSeq, UserId } from './ids';

/** What a push says about the message, the same for every recipient. */
const PushedMessage = z.object({
  conversationId: ConversationId,
  conversationKind: ConversationKind.optional(),
  conversationTitle: z.string().optional(),
  messageId: MessageId,
  seq: PositiveSeq,
  senderId: UserId,
  sentAt: z.string(),
  /** CHAT_EVENTS stream sequence of the MessageSent event. */
  eventSeq: z.number().int().positive(),
});

/**
 * One recipient of one message who had no connected device when the projector routed it: what
 * the notifier collapses and pushes. `jobId` = `<eventSeq>:<userId>`. The job never carries the
 * text; with CHAT_PUSH_PREVIEW on, the notifier reads it from the read model for the push itself.
 * On the stream since {@link NotifyMessage} only in CHAT_NOTIFY's older messages (`v: 1`,
 * `chat.notify.<userId>`), which the notifier still reads.
 */
export const NotifyJob = PushedMessage.extend({
  v: z.literal(1),
  jobId: z.string(),
  userId: UserId,
  /** Filled in by the notifier (CHAT_PUSH_PREVIEW), never on the stream. */
  text: z.string().optional(),
});
export type NotifyJob = z.infer<typeof NotifyJob>;

/** Recipients in one {@link NotifyMessage} at most (about 70 KB of ids at their longest); a bigger group's are split. */
export const MAX_NOTIFY_RECIPIENTS = 1_000;

/**
 * One message on CHAT_NOTIFY (`chat.notify.<conversationId>`, `v: 2`): the recipients of one
 * chat message who had no connected device when the projector routed it, sorted, up to
 * {@link MAX_NOTIFY_RECIPIENTS} (more are split over several), so a message to a group whose
 * members are away is one job, not one per member. `Nats-Msg-Id` = `<eventSeq>:<first
 * recipient>` ({@link notifyJobId}): a re-routed event queues nothing twice.
 */
export const NotifyMessage = PushedMessage.extend({
  v: z.literal(2),
  userIds: z.array(UserId).min(1).max(MAX_NOTIFY_RECIPIENTS),
});
export type NotifyMessage = z.infer<typeof NotifyMessage>;

/** Anything the notifier takes from CHAT_NOTIFY. */
export const NotifyStreamJob = z.discriminatedUnion('v', [NotifyJob, NotifyMessage]);
export type NotifyStreamJob = z.infer<typeof NotifyStreamJob>;

export const notifyJobId = (eventSeq: number, userId: string): string => `${eventSeq}:${userId}`;

/** The per-recipient jobs a message from CHAT_NOTIFY stands for. */
export function recipientJobs(job: NotifyStreamJob): NotifyJob[] {
  if (job.v === 1) return [job];
  const { v: _v, userIds, ...message } = job;
  return userIds.map((userId) => ({ v: 1, jobId: notifyJobId(job.eventSeq, userId), userId, ...message }));
}
