import type { Logger } from 'pino';
import type { Names } from '@chat/contracts';
import type { ConversationListCache } from '@chat/redis';
import type { AnyProjection } from './pipeline/applier';
import type { Router } from './routing';
import { MESSAGES_TABLES, messagesProjection } from './messages/projection';
import { RECEIPTS_TABLES, receiptsProjection, type Retention } from './receipts/projection';
import { CONVERSATIONS_TABLES, conversationsProjection } from './conversations/projection';
import { PREFERENCES_TABLES, preferencesProjection } from './preferences/projection';

/** In the order the projector applies them within a batch (later ones may read earlier ones' rows). */
export const PROJECTION_KEYS = ['messages', 'receipts', 'conversations', 'preferences'] as const;
export type ProjectionKey = (typeof PROJECTION_KEYS)[number];

/** Parses a list of projection keys ("messages,receipts"). */
export function parseProjectionKeys(list: string): ProjectionKey[] {
  const keys = [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))];
  const bad = keys.filter((k) => !(PROJECTION_KEYS as readonly string[]).includes(k));
  if (bad.length) throw new Error(`unknown projection(s): ${bad.join(', ')} (known: ${PROJECTION_KEYS.join(', ')})`);
  if (keys.length === 0) throw new Error('no projection named');
  return keys as ProjectionKey[];
}

/** Checkpoint name and owned tables of a projection, without building it. */
export function projectionSpec(key: ProjectionKey, names: Names): { name: string; tables: readonly string[] } {
  switch (key) {
    case 'messages':
      return { name: names.consumers.projMessages, tables: MESSAGES_TABLES };
    case 'receipts':
      return { name: names.consumers.projReceipts, tables: RECEIPTS_TABLES };
    case 'conversations':
      return { name: names.consumers.projConversations, tables: CONVERSATIONS_TABLES };
    case 'preferences':
      return { name: names.consumers.projPreferences, tables: PREFERENCES_TABLES };
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
): AnyProjection {
  switch (key) {
    case 'messages':
      return messagesProjection(names);
    case 'receipts':
      return receiptsProjection(names, router, { ...(deps.log ? { log: deps.log } : {}), retention: deps.retention ?? 'history' });
    case 'conversations':
      return conversationsProjection(names, { router, cache: deps.cache ?? null, ...(deps.log ? { log: deps.log } : {}), retention: deps.retention ?? 'history' });
    case 'preferences':
      return preferencesProjection(names);
    default: {
      const never: never = key;
      throw new Error(`unknown projection ${String(never)}`);
    }
  }
}
