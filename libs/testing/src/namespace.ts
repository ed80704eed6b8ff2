import { randomBytes } from 'node:crypto';
import { names } from '@chat/contracts';
import { MediaStore, parseMediaEnv } from '@chat/media';
import { createDatabase, dropDatabase, migrate, withDatabase, withNats } from '@chat/ops';
import { createRedis } from '@chat/redis';
import { applyStreams } from '@chat/streams';

/** Where the servers are: the environment (set from .data/env by scripts/test.sh) or the local defaults. */
export function serverUrls(env: Record<string, string | undefined> = process.env): { natsUrl: string; databaseUrl: string; redisUrl: string } {
  return {
    natsUrl: env['NATS_URL'] || 'nats://127.0.0.1:4222',
    databaseUrl: env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/chat',
    redisUrl: env['REDIS_URL'] || 'redis://127.0.0.1:6379',
  };
}

const S3_VARS = ['S3_ENDPOINT', 'S3_BUCKET', 'S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_FORCE_PATH_STYLE'] as const;

/** The media storage (S3_*, set from .data/env like the URLs) with the apps' defaults; '' = unset. */
export function s3Env(env: Record<string, string | undefined> = process.env): Record<(typeof S3_VARS)[number], string> {
  const parsed = parseMediaEnv(env);
  return Object.fromEntries(S3_VARS.map((k) => [k, String(parsed[k] ?? '')])) as Record<(typeof S3_VARS)[number], string>;
}

export interface TestNamespace {
  /** `t` + 8 hex chars: prefixes streams, subjects, Redis keys and media keys; names the database. */
  ns: string;
  natsUrl: string;
  /** postgres://…/chat_<ns>, migrated. */
  databaseUrl: string;
  redisUrl: string;
  /** What an app process of this namespace needs in its environment. */
  env: Record<string, string>;
  /** Drops the database, deletes the streams, the Redis keys and the media objects of the namespace. */
  dispose(): Promise<void>;
}

const THIRTY_DAYS_MS = 30 * 86_400_000;

/**
 * A throwaway namespace on the shared servers: its own database (migrated), its own streams
 * and consumers, its own Redis key prefix. Nothing outside it is touched, so tests can run
 * next to a developer's `npm start`.
 */
export async function createTestNamespace(env: Record<string, string | undefined> = process.env, opts: { maxAgeMs?: number } = {}): Promise<TestNamespace> {
  const maxAgeMs = opts.maxAgeMs ?? THIRTY_DAYS_MS;
  const ns = `t${randomBytes(4).toString('hex')}`;
  const n = names(ns);
  const base = serverUrls(env);
  const databaseUrl = withDatabase(base.databaseUrl, `chat_${ns}`);

  await createDatabase(databaseUrl);
  await migrate(databaseUrl);
  await withNats(base.natsUrl, (nats) => applyStreams(nats.jsm, n, { replicas: 1, maxAgeMs }));

  return {
    ns,
    natsUrl: base.natsUrl,
    databaseUrl,
    redisUrl: base.redisUrl,
    env: {
      NATS_URL: base.natsUrl,
      DATABASE_URL: databaseUrl,
      REDIS_URL: base.redisUrl,
      CHAT_NS: ns,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'test',
      CHAT_STREAM_REPLICAS: '1',
      CHAT_MAX_AGE: `${maxAgeMs}ms`,
      ...s3Env(env),
    },
    dispose: () => disposeNamespace(ns, base.natsUrl, databaseUrl, base.redisUrl, env),
  };
}

/** Best effort on every part, then one error listing what failed. */
async function disposeNamespace(ns: string, natsUrl: string, databaseUrl: string, redisUrl: string, env: Record<string, string | undefined>): Promise<void> {
  const failures: unknown[] = [];
  const attempt = (p: Promise<unknown>) => p.catch((e: unknown) => void failures.push(e));

  await attempt(dropDatabase(databaseUrl));
  await attempt(
    withNats(natsUrl, async (nats) => {
      // The ns's streams, and any other stream an app created under the ns prefix.
      const doomed = new Set([...Object.values(names(ns).streams), ...Object.values(names(ns).kv).map((b) => `KV_${b}`)]);
      for await (const si of nats.jsm.streams.list()) if (si.config.name.startsWith(`${ns}_`) || si.config.name.startsWith(`KV_${ns}_`)) doomed.add(si.config.name);
      for (const s of doomed) await nats.jsm.streams.delete(s).catch(() => undefined);
    }),
  );
  await attempt(deleteRedisKeys(redisUrl, `${names(ns).redisPrefix}*`));
  // Without an endpoint the SDK would go looking for AWS credentials: nothing of the tests is there.
  if (env['S3_ENDPOINT']) await attempt(deleteMedia(env, ns));
  if (failures.length) throw new AggregateError(failures, `disposing test namespace ${ns} failed`);
}

async function deleteRedisKeys(url: string, pattern: string): Promise<void> {
  const redis = createRedis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function deleteMedia(env: Record<string, string | undefined>, ns: string): Promise<void> {
  const store = MediaStore.fromEnv(parseMediaEnv(env), ns);
  try {
    await store.clear();
  } finally {
    store.close();
  }
}
