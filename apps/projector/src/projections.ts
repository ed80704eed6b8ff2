import type { Logger } from 'pino';
import type { Names } from '@chat/contracts';
import type { ConversationListCache } from '@chat/redis';
import type { Projection } from './projection';
import type { Router } from './routing';
import { MESSAGES_TABLES, messagesProjection } from './messages/projection';
import { RECEIPTS_TABLES, receiptsProjection, type Retention } from './receipts/projection';
import { CONVERSATIONS_TABLES, conversationsProjection } from './conversations/projection';

export const PROJECTION_KEYS = ['messages', 'receipts', 'conversations'] as const;
export type ProjectionKey = (typeof PROJECTION_KEYS)[number];

/** Parses CHAT_PROJECTIONS ("messages,receipts,conversations"). */
export function parseProjectionKeys(list: string): ProjectionKey[] {
  const keys = [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))];
  const bad = keys.filter((k) => !(PROJECTION_KEYS as readonly string[]).includes(k));
  if (bad.length) throw new Error(`unknown projection(s): ${bad.join(', ')} (known: ${PROJECTION_KEYS.join(', ')})`);
  if (keys.length === 0) throw new Error('CHAT_PROJECTIONS names no projection');
  return keys as ProjectionKey[];
}

/** Consumer/checkpoint name and owned tables of a projection, without building it. */
export function projectionSpec(key: ProjectionKey, names: Names): { name: string; tables: readonly string[] } {
  switch (key) {
    case 'messages':
      return { name: names.consumers.projMessages, tables: MESSAGES_TABLES };
    case 'receipts':
      return { name: names.consumers.projReceipts, tables: RECEIPTS_TABLES };
    case 'conversations':
      return { name: names.consumers.projConversations, tables: CONVERSATIONS_TABLES };
    default: {
      const never: never = key;
      throw new Error(`unknown projection ${String(never)}`);
    }
  }
}

export function buildProjection(
  key: ProjectionKey,
  names: Names,
  router: Router | null,
  deps: { cache?: ConversationListCache | null; log?: Logger; retention?: Retention } = {},
): Projection {
  switch (key) {
    case 'messages':
      return messagesProjection(names, router) as Projection;
    case 'receipts':
      return receiptsProjection(names, router, { ...(deps.log ? { log: deps.log } : {}), retention: deps.retention ?? 'history' }) as Projection;
    case 'conversations':
      return conversationsProjection(names, { router, cache: deps.cache ?? null, ...(deps.log ? { log: deps.log } : {}), retention: deps.retention ?? 'history' }) as Projection;
    default: {
      const never: never = key;
      throw new Error(`unknown projection ${String(never)}`);
    }
  }
}
