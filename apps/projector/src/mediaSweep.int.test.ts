import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { messageSent } from '@chat/domain/fixtures';
import { MediaStore, parseMediaEnv } from '@chat/media';
import { messagesProjection } from './messages/projection';
import { sweepMedia, type MediaSweepOptions } from './mediaSweep';
import { sweep } from './sweeper';
import { at, created, deleted, publishEvents, startProjections, useTestEnv, waitForCheckpoint } from './testing/env';

const t = useTestEnv();
let store: MediaStore;
beforeAll(() => {
  store = MediaStore.fromEnv(parseMediaEnv(inject('chatEnv')), t.env.ns);
});
afterAll(() => store?.close());

const MIN = 60_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A media row as the edge writes it; times in minutes relative to `t0`. */
async function media(t0: number, id: string, digest: string, o: { status?: 'pending' | 'ready'; readyAt?: number; sentAt?: number; createdAt?: number }) {
  const min = (m: number | undefined) => (m === undefined ? null : new Date(t0 + m * MIN));
  await t.env.pool.query(
    `INSERT INTO media (media_id, owner_id, content_type, size, sha256, status, created_at, ready_at, sent_at) VALUES ($1, 'alice', 'image/png', 3, $2, $3, $4, $5, $6)`,
    [id, digest, o.status ?? 'ready', min(o.createdAt ?? 0), min(o.readyAt), min(o.sentAt)],
  );
}

const carrying = (conversationId: string, seq: number, mediaId: string, digest: string) =>
  messageSent({ conversationId, seq, senderId: 'alice', body: { media: { mediaId, contentType: 'image/png', size: 3, sha256: digest } }, sentAt: at(seq) });

const exists = async (key: string) => (await store.head(key)) !== null;

describe('media clean-up', () => {
  it('removes an upload once nothing needs it, and the bytes once no upload has them', async () => {
    const t0 = Date.now();
    const opts = (minutes: number): MediaSweepOptions => ({ store, uploadExpiryMs: 15 * MIN, unsentTtlMs: 24 * 60 * MIN, now: () => new Date(t0 + minutes * MIN) });
    const [shared, unsent] = [randomBytes(3), randomBytes(3)];
    const [x, y] = [sha(shared), sha(unsent)];
    // Two uploads of the same bytes, both sent; one never sent; one never completed.
    await media(t0, 'mA', x, { readyAt: 0, sentAt: 0 });
    await media(t0, 'mB', x, { readyAt: 0, sentAt: 0 });
    await media(t0, 'mC', y, { readyAt: 0 });
    await media(t0, 'mP', y, { status: 'pending' });
    await store.put(store.blobKey(x), shared, 'image/png');
    await store.put(store.thumbKey(x), shared, 'image/jpeg');
    await store.put(store.blobKey(y), unsent, 'image/png');
    await store.put(store.uploadKey('mP'), unsent, 'image/png');

    const run = startProjections(t.env, (n) => [messagesProjection(n)]);
    try {
      const seqs = await publishEvents(t.env.nats.js, t.env.names, [created('g1', ['alice', 'bob']), carrying('g1', 1, 'mA', x), carrying('g1', 2, 'mB', x)]);
      await waitForCheckpoint(t.env.pool, t.env.names.consumers.projMessages, seqs[2]!);
      const left = async () => (await t.env.pool.query<{ media_id: string }>('SELECT media_id FROM media ORDER BY media_id')).rows.map((r) => r.media_id);

      // Everything is needed: carried by messages, or inside its window.
      expect(await sweepMedia(t.env.pool, opts(11))).toEqual({ uploads: 0, objects: 0 });
      expect(await left()).toEqual(['mA', 'mB', 'mC', 'mP']);

      // mA's message deleted for everyone: mA goes after the grace period; its bytes stay (mB has them).
      const del = await publishEvents(t.env.nats.js, t.env.names, [deleted('g1', 1, 'alice')]);
      await waitForCheckpoint(t.env.pool, t.env.names.consumers.projMessages, del[0]!);
      expect(await sweepMedia(t.env.pool, opts(11))).toEqual({ uploads: 1, objects: 0 });
      expect(await left()).toEqual(['mB', 'mC', 'mP']);
      expect(await exists(store.blobKey(x))).toBe(true);

      // The upload never completed goes a minute after its URL expired, with its staging object;
      // the bytes it declared stay while mC, completed but never sent, is inside its 24 h.
      expect(await sweepMedia(t.env.pool, opts(17))).toEqual({ uploads: 1, objects: 0 });
      expect(await exists(store.uploadKey('mP'))).toBe(false);
      expect(await exists(store.blobKey(y))).toBe(true);

      // mC's 24 h are over: it goes, and with it the only copy of its bytes.
      expect(await sweepMedia(t.env.pool, opts(24 * 60 + 1))).toEqual({ uploads: 1, objects: 1 });
      expect(await exists(store.blobKey(y))).toBe(false);

      // The last message carrying x deleted: the bytes and the thumbnail go.
      const last = await publishEvents(t.env.nats.js, t.env.names, [deleted('g1', 2, 'alice')]);
      await waitForCheckpoint(t.env.pool, t.env.names.consumers.projMessages, last[0]!);
      expect(await sweepMedia(t.env.pool, opts(24 * 60 + 1))).toEqual({ uploads: 1, objects: 1 });
      expect([await exists(store.blobKey(x)), await exists(store.thumbKey(x))]).toEqual([false, false]);
      expect(await left()).toEqual([]);
      expect(await sweepMedia(t.env.pool, opts(24 * 60 + 1))).toEqual({ uploads: 0, objects: 0 });

      // Retention: a message past CHAT_MAX_AGE goes with the sweep, and so does the media only it carried.
      const old = randomBytes(3);
      await media(t0, 'mZ', sha(old), { readyAt: 0, sentAt: 0 });
      await store.put(store.blobKey(sha(old)), old, 'image/png');
      const z = await publishEvents(t.env.nats.js, t.env.names, [carrying('g1', 3, 'mZ', sha(old))]);
      await waitForCheckpoint(t.env.pool, t.env.names.consumers.projMessages, z[0]!);
      const swept = await sweep(t.env.pool, { maxAgeMs: Date.now() - Date.parse(at(3)) - MIN, media: { store, uploadExpiryMs: 15 * MIN, unsentTtlMs: 24 * 60 * MIN }, now: () => new Date(t0 + 24 * 60 * MIN) });
      expect(swept).toMatchObject({ messages: 3, mediaUploads: 1, mediaObjects: 1 });
      expect(await exists(store.blobKey(sha(old)))).toBe(false);
    } finally {
      await run.stop();
    }
  });
});
