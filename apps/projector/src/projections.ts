import type { Logger } from 'pino';
import type { Names } from '@chat/contracts';
import type { ConversationListCache } from '@chat/redis';
import type { AnyProjection } from './pipeline/applier';
import type { Router } from './routing';
import type { ProjectionKey } from '@chat/postgres';
import { messagesProjection } from './messages/projection';
import { receiptsProjection, type Retention } from './receipts/projection';
import { conversationsProjection } from './conversations/projection';
import { preferencesProjection } from './preferences/projection';

export { PROJECTION_KEYS, parseProjectionKeys, type ProjectionKey } from '@chat/postgres';

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
