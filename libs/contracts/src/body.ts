import { z } from 'zod';
import { LIMITS } from './limits';

export const TextBody = z.object({ text: z.string().min(1).max(LIMITS.maxTextLength) }).strict();
/** A message body. Media bodies are added by later protocol versions. */
export const MessageBody = TextBody;
export type MessageBody = z.infer<typeof MessageBody>;

/**
 * What a system message (a join or leave in the timeline) says, for clients to render in
 * their own language; `body.text` carries an English rendering.
 */
export const SystemInfo = z.object({
  event: z.enum(['members_added', 'member_removed', 'member_left']),
  by: z.string(),
  userIds: z.array(z.string()),
});
export type SystemInfo = z.infer<typeof SystemInfo>;
