import { z } from 'zod';

/** User and device ids: 1–64 chars of [A-Za-z0-9_.-] (PROTOCOL.md, "Token"). */
export const UserId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 chars of [A-Za-z0-9_.-]');
export const DeviceId = UserId;
/**
 * Conversation ids become a NATS subject token, so they may not contain '.', '*', '>' or
 * whitespace. Direct conversations use `d-<hash>`, groups `g-<ulid>`.
 */
export const ConversationId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 chars of [A-Za-z0-9_-]');
export const ClientMsgId = z.string().min(1).max(64);
export const MessageId = z.string().min(1).max(64);
export const Seq = z.number().int().nonnegative();
export const PositiveSeq = z.number().int().positive();

export type UserId = z.infer<typeof UserId>;
export type ConversationId = z.infer<typeof ConversationId>;
