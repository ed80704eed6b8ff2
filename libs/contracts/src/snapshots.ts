import { z } from 'zod';
import { ConversationId, ConversationKind, MessageId, Role, Seq, UserId } from './ids';
import { LastSeenVisibility } from './events';

/**
 * Snapshots of aggregate state in the CHAT_SNAPSHOTS key-value bucket (key = the aggregate's
 * subject). CHAT_EVENTS forgets events after CHAT_MAX_AGE; a snapshot does not age, so a
 * conversation, its members, its last seq, a member's watermarks and their mute outlive the
 * events that made them. `position` is the CHAT_EVENTS sequence of the last event folded in:
 * the state is the snapshot plus the subject's events after `position`.
 *
 * Written by the command service (libs/command-tier/src/snapshots), read by it on a cache miss and
 * by `npm run rebuild` to restore what the stream no longer holds.
 */

const Iso = z.string();

export const ConversationSnapshotState = z.object({
  status: z.literal('active'),
  conversationId: ConversationId,
  kind: ConversationKind,
  title: z.string().optional(),
  description: z.string().optional(),
  avatarUrl: z.string().optional(),
  createdBy: UserId,
  /** Time of ConversationCreated. */
  createdAt: Iso,
  members: z.array(z.object({ userId: UserId, role: Role, joinedAfterSeq: Seq })),
  lastSeq: Seq,
  lastEventAt: Iso,
  /** The newest message (not system message), for a list row whose events are gone. */
  lastMessage: z.object({ messageId: MessageId, seq: Seq, senderId: UserId, sentAt: Iso }).optional(),
  /** Client ids inside the idempotency window, oldest first. */
  sent: z.array(z.object({ senderId: UserId, clientMsgId: z.string(), messageId: MessageId, seq: Seq, sentAt: Iso })),
  /** Messages inside the edit and delete windows, oldest first. */
  messages: z.array(z.object({ messageId: MessageId, seq: Seq, senderId: UserId, sentAtMs: z.number(), deleted: z.boolean() })),
});
export type ConversationSnapshotState = z.infer<typeof ConversationSnapshotState>;

export const ReceiptSnapshotState = z.object({
  deliveredSeq: Seq,
  readSeq: Seq,
  devices: z.record(z.string(), Seq),
});
export type ReceiptSnapshotState = z.infer<typeof ReceiptSnapshotState>;

export const PreferenceSnapshotState = z.object({
  muted: z.boolean(),
  until: Iso.optional(),
});
export type PreferenceSnapshotState = z.infer<typeof PreferenceSnapshotState>;

export const UserSnapshotState = z.object({
  lastSeen: LastSeenVisibility,
  /** Whom the user blocks, and since when. */
  blocked: z.array(z.object({ userId: UserId, at: Iso })),
});
export type UserSnapshotState = z.infer<typeof UserSnapshotState>;

const envelope = <K extends string, S extends z.ZodTypeAny>(kind: K, state: S) =>
  z.object({
    v: z.literal(1),
    kind: z.literal(kind),
    /** CHAT_EVENTS sequence of the last event folded into `state`. */
    position: z.number().int().nonnegative(),
    /** When the snapshot was taken. */
    takenAt: Iso,
    state,
  });

export const Snapshot = z.discriminatedUnion('kind', [
  envelope('conversation', ConversationSnapshotState),
  envelope('receipt', ReceiptSnapshotState),
  envelope('preference', PreferenceSnapshotState),
  envelope('user', UserSnapshotState),
]);
export type Snapshot = z.infer<typeof Snapshot>;
export type SnapshotKind = Snapshot['kind'];
export type SnapshotOf<K extends SnapshotKind> = Extract<Snapshot, { kind: K }>;
