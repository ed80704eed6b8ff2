import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { names } from '@chat/contracts';
import { createPool, listEntries, type Pool } from '@chat/postgres';
import { ConversationListCache, createRedis, type Redis } from '@chat/redis';
import { rebuildConversationCache } from './cache';

const env = inject('chatEnv');
const checkpointName = names(env['CHAT_NS'] ?? '').consumers.projConversations;
let pool: Pool;
let redis: Redis;
let cache: ConversationListCache;

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

beforeAll(async () => {
  pool = createPool(env['DATABASE_URL']!, 2);
  redis = createRedis(env['REDIS_URL']!, names(env['CHAT_NS']!).redisPrefix);
  cache = new ConversationListCache(redis);
  await pool.query(
    `INSERT INTO user_conversations (user_id, conversation_id, kind, title, members, last_seq, last_message, last_activity_at, unread_count, mention_count, member_count, version, description)
     VALUES ('cu1', 'c1', 'group', 'One', '{cu1,cu2}', 3, '{"messageId":"m3","seq":3,"senderId":"cu2","preview":"hi","sentAt":"2024-01-01T00:00:03.000Z"}', '2024-01-01T00:00:03Z', 2, 1, 2, 40, 'd'),
            ('cu1', 'c2', 'direct', NULL, '{cu1,cu3}', 0, NULL, '2024-01-01T00:00:05Z', 0, 0, 2, 41, NULL),
            ('cu2', 'c1', 'group', 'One', '{cu1,cu2}', 3, NULL, '2024-01-01T00:00:03Z', 0, 0, 2, 40, 'd')`,
  );
});
afterAll(async () => {
  await pool.query("DELETE FROM user_conversations WHERE user_id LIKE 'cu%'");
  await cache.clear();
  await pool.end();
  redis.disconnect();
});

describe('conversation-list cache rebuild', () => {
  it('maps user_conversations rows to list entries with their versions', async () => {
    expect(await listEntries(pool, 'cu1')).toEqual(
      expect.arrayContaining([
        {
          version: 40,
          entry: {
            conversationId: 'c1',
            kind: 'group',
            title: 'One',
            members: ['cu1', 'cu2'],
            memberCount: 2,
            lastMessage: { messageId: 'm3', seq: 3, senderId: 'cu2', preview: 'hi', sentAt: '2024-01-01T00:00:03.000Z' },
            unreadCount: 2,
            mentionCount: 1,
            lastActivityAt: '2024-01-01T00:00:03.000Z',
            description: 'd',
          },
        },
        { version: 41, entry: expect.objectContaining({ conversationId: 'c2', kind: 'direct', title: null, lastMessage: null }) },
      ]),
    );
  });

  it('clears and reloads one user or everyone, marking the lists loaded', async () => {
    // A stale entry the rebuild must drop.
    await cache.load('cu1', [{ version: 99, entry: { ...(await listEntries(pool, 'cu1'))[0]!.entry, conversationId: 'gone' } }], 0);
    expect(await rebuildConversationCache({ pool, redis, checkpointName }, { userId: 'cu1' })).toEqual({ users: 1, entries: 2 });
    expect(await cache.isLoaded('cu1')).toBe(true);
    expect(await cache.isLoaded('cu2')).toBe(false);
    expect((await cache.page('cu1', { limit: 10 }))?.conversations.map((c) => c.conversationId)).toEqual(['c2', 'c1']);
    const all = await rebuildConversationCache({ pool, redis, checkpointName });
    expect(all.users).toBeGreaterThanOrEqual(2);
    expect(await cache.isLoaded('cu2')).toBe(true);
    expect(await cache.unreadCounts('cu1')).toEqual({ c1: 2, c2: 0 });
  });

  it('chatctl cache rebuild --user', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'libs/ops/src/chatctl.ts', 'cache', 'rebuild', '--user', 'cu2'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('conversation lists: 1 user(s), 1 entry loaded');
  });
});
