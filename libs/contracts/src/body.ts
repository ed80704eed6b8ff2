import { z } from 'zod';
import { LIMITS } from './limits';

export const TextBody = z.object({ text: z.string().min(1).max(LIMITS.maxTextLength) }).strict();
/** A message body. Media bodies are added by later protocol versions. */
export const MessageBody = TextBody;
export type MessageBody = z.infer<typeof MessageBody>;
