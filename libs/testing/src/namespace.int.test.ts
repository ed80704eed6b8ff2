import { afterAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { names } from '@chat/contracts';
import { MediaStore, parseMediaEnv } from '@chat/media';
import { connectNats } from '@chat/nats';
import { createRedis } from '@chat/redis';
import { createTestNamespace } from './namespace';

describe('the run-wide namespace from the global setup', () => {
  it('is provided as environment variables for app processes', () => {
    const env = inject('chatEnv');
    expect(env['CHAT_NS']).toMatch(/^t[0-9a-f]{8}$/);
    expect(env['DATABASE_URL']).toMatch(new RegExp(`/chat_${env['CHAT_NS']}$`));
    expect(env).toMatchObject({ LOG_LEVEL: 'warn', NATS_URL: expect.any(String), REDIS_URL: expect.any(String) });
    // The media storage services.sh chose (scripts/s3-local.mjs unless S3_ENDPOINT was set).
    expect(env).toMatchObject({ S3_ENDPOINT: expect.stringMatching(/^https?:\/\//), S3_BUCKET: expect.any(String), S3_REGION: expect.any(String) });
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_FORCE_PATH_STYLE']));
  });
});

describe('createTestNamespace', () => {
  const nats = connectNats(inject('chatEnv')['NATS_URL']!, 'testing-test');
  afterAll(async () => (await nats).nc.close());

  it('creates a migrated database, the streams and key prefixes, and dispose removes them all', async () => {
    const t = await createTestNamespace(inject('chatEnv'));
    const n = names(t.ns);
    const { jsm } = await nats;

    const db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename IN ('messages', 'inbox', 'projection_checkpoints')");
    await db.end();
    expect(rows[0]?.n).toBe(3);
    expect((await jsm.streams.info(n.streams.events)).config.num_replicas).toBe(1);

    const redis = createRedis(t.redisUrl);
    await redis.set(`${n.redisPrefix}probe`, '1');
    await redis.set(`${n.redisPrefix}conn:{alice}`, '1');
    const media = MediaStore.fromEnv(parseMediaEnv(t.env), t.ns);
    await media.put(media.uploadKey('probe'), Buffer.from('probe'), 'text/plain');

    await t.dispose();

    expect(await media.head(media.uploadKey('probe'))).toBeNull();
    media.close();

    expect(await redis.exists(`${n.redisPrefix}probe`, `${n.redisPrefix}conn:{alice}`)).toBe(0);
    redis.disconnect();
    await expect(jsm.streams.info(n.streams.events)).rejects.toThrow();
    const admin = new pg.Client({ connectionString: t.databaseUrl.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [`chat_${t.ns}`]);
    await admin.end();
    expect(left.rowCount).toBe(0);
  });
});
