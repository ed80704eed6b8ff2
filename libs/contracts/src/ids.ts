import { z } from 'zod';

/** User and device ids: 1–64 chars of [A-Za-z0-9_.-] (docs/protocol.md, "Token"). */
export const UserId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 chars of [A-Za-z0-9_.-]');
export const DeviceId = UserId;
/**
 * Conversation ids become a NATS subject token, so they may not contain '.', '*', '>' or
 * whitespace. Direct conversations use `d-<hash>`, groups `g-<ulid>`.
 */
export const ConversationId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 chars of [A-Za-z0-9_-]');
export const ClientMsgId = z.string().min(1).max(64);
export const MessageId = z.string().min(1).max(64);
/** A conversation between two users (fixed members) or a group. */
export const ConversationKind = z.enum(['direct', 'group']);
export type ConversationKind = z.infer<typeof ConversationKind>;
/** A member's role in a group (direct conversations have members only). */
export const Role = z.enum(['owner', 'admin', 'member']);
export type Role = z.infer<typeof Role>;
export const Seq = z.number().int().nonnegative();
export const PositiveSeq = z.number().int().positive();

export type UserId = z.infer<typeof UserId>;
export type ConversationId = z.infer<typeof ConversationId>;
