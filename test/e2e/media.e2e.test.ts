import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ServerFrameOf } from '@chat/client';
import { ErrorBody, MediaReady, MediaUpload } from '@chat/contracts';
import { MediaStore, parseMediaEnv } from '@chat/media';
import { createTestNamespace, type TestNamespace } from '@chat/testing';
import { eventually, nextEvent, startSystem, type RunningSystem } from '../support/system';
import { harness, type Json } from '../support/harness';

/**
 * Media through presigned URLs against the local S3-compatible server (docs/media.md): the
 * bytes go from the sender to object storage and from there to the recipient, never through
 * the edge; the server checks them, stores them once per SHA-256 and removes them when no
 * message needs them.
 */
const UPLOAD_EXPIRY_MS = 3_000;

let ns: TestNamespace;
let sys: RunningSystem;
let store: MediaStore;
const { u, connect, http, closeAll } = harness(() => sys);

beforeAll(async () => {
  ns = await createTestNamespace(inject('chatEnv'));
  sys = await startSystem(ns.env, {
    CHAT_MEDIA_UPLOAD_EXPIRY: `${UPLOAD_EXPIRY_MS}ms`,
    CHAT_MEDIA_UNSENT_TTL: '6s',
    CHAT_SWEEP_INTERVAL: '200ms',
    CHAT_MEDIA_MAX_IMAGE: '1MiB',
  });
  store = MediaStore.fromEnv(parseMediaEnv(ns.env), ns.ns);
}, 60_000);

afterEach(() => closeAll());

afterAll(async () => {
  await sys?.stop();
  store?.close();
  await ns?.dispose();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const png = (width: number, height: number, seed: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: seed % 256, g: (seed >> 8) % 256, b: 77 } } }).png().toBuffer();

async function post(path: string, user: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const r = await http(path, user, { method: 'POST', ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  return { status: r.status, json: await r.json() };
}

/** Declares, PUTs and completes an upload as a client does; returns the completed media. */
async function upload(user: string, bytes: Buffer, contentType = 'image/png'): Promise<MediaReady> {
  const declared = await post('/v1/media', user, { contentType, size: bytes.length, sha256: sha256(bytes) });
  expect([declared.status, declared.json]).toEqual([201, expect.anything()]);
  const up = MediaUpload.parse(declared.json);
  expect((await fetch(up.uploadUrl, { method: 'PUT', body: new Uint8Array(bytes), headers: up.uploadHeaders })).status).toBe(200);
  const done = await post(`/v1/media/${up.mediaId}/complete`, user);
  expect(done.status).toBe(200);
  return MediaReady.parse(done.json);
}

/** Follows the 302 to the presigned URL and returns what object storage serves. */
async function download(path: string, user: string): Promise<{ status: number; bytes?: Buffer; type?: string | null }> {
  const r = await http(path, user, { redirect: 'manual' });
  if (r.status !== 302) return { status: r.status };
  const o = await fetch(r.headers.get('location')!);
  return { status: 302, bytes: Buffer.from(await o.arrayBuffer()), type: o.headers.get('content-type') };
}

const live = (c: Awaited<ReturnType<typeof connect>>, conversationId: string, seq: number) =>
  nextEvent<ServerFrameOf<'message.new'>>((f) => c.on('message', f), (m) => m.conversationId === conversationId && m.seq === seq, 15_000);

describe('media', () => {
  it('an image goes up, is checked and sent; the recipient downloads the exact bytes and a 320-pixel thumbnail; a non-member gets 404', async () => {
    const [alice, bob] = [u('alice'), u('bob')];
    const a = await connect(alice);
    const b = await connect(bob);
    const { conversationId } = await a.createConversation({ kind: 'direct', members: [bob] });
    const bytes = await png(1200, 800, 1);
    const media = await upload(alice, bytes);
    expect(media).toEqual({ mediaId: media.mediaId, status: 'ready', contentType: 'image/png', size: bytes.length, sha256: sha256(bytes), width: 1200, height: 800, thumbnail: { width: 320, height: 213 } });

    const arrives = live(b, conversationId, 1);
    expect(await a.send({ conversationId, body: { media: { mediaId: media.mediaId }, text: 'the view' } })).toMatchObject({ seq: 1 });
    const { status: _s, ...info } = media;
    expect((await arrives).body).toEqual({ media: info, text: 'the view' });

    const got = await eventually(() => download(`/v1/media/${media.mediaId}`, bob), (d) => d.status === 302);
    expect(got.bytes!.equals(bytes)).toBe(true);
    expect(got.type).toBe('image/png');
    const thumb = await download(`/v1/media/${media.mediaId}/thumbnail`, bob);
    expect(await sharp(thumb.bytes!).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 213 });
    // Existence does not leak: a stranger gets what an unknown id gets.
    const stranger = u('mallory');
    expect((await download(`/v1/media/${media.mediaId}`, stranger)).status).toBe(404);
    expect((await download(`/v1/media/${media.mediaId}/thumbnail`, stranger)).status).toBe(404);
    expect((await download('/v1/media/no-such-media', stranger)).status).toBe(404);
    // History and the list show it too.
    const history = (await (await http(`/v1/conversations/${conversationId}/messages`, bob)).json()) as Json;
    expect(history.messages[0].body).toEqual({ media: info, text: 'the view' });
  });

  it('refuses bytes that do not match the declaration (409) and stores nothing; only the uploader completes; limits answer 413 and 400', async () => {
    const alice = u('alice2');
    const bytes = randomBytes(2048);
    const declared = MediaUpload.parse((await post('/v1/media', alice, { contentType: 'application/octet-stream', size: bytes.length, sha256: sha256(bytes) })).json);
    // Someone else cannot complete (or learn about) alice's upload.
    expect((await post(`/v1/media/${declared.mediaId}/complete`, u('eve'))).status).toBe(404);
    // Nothing uploaded yet.
    expect((await post(`/v1/media/${declared.mediaId}/complete`, alice)).status).toBe(409);
    const other = randomBytes(2048);
    expect((await fetch(declared.uploadUrl, { method: 'PUT', body: new Uint8Array(other), headers: { 'content-type': 'application/octet-stream' } })).status).toBe(200);
    const refused = await post(`/v1/media/${declared.mediaId}/complete`, alice);
    expect(refused.status).toBe(409);
    expect(ErrorBody.parse(refused.json).error.code).toBe('conflict');
    expect(await store.head(store.uploadKey(declared.mediaId))).toBeNull();
    expect(await store.head(store.blobKey(sha256(other)))).toBeNull();
    expect(await store.head(store.blobKey(sha256(bytes)))).toBeNull();
    // The upload is gone: completing again is 404, sending it is refused.
    expect((await post(`/v1/media/${declared.mediaId}/complete`, alice)).status).toBe(404);
    // Opaque bytes (end-to-end encrypted media) are checked the same way and get no thumbnail.
    const sealed = await upload(alice, bytes, 'application/octet-stream');
    expect(sealed).toEqual({ mediaId: sealed.mediaId, status: 'ready', contentType: 'application/octet-stream', size: bytes.length, sha256: sha256(bytes) });
    expect((await download(`/v1/media/${sealed.mediaId}/thumbnail`, alice)).status).toBe(404);
    expect((await download(`/v1/media/${sealed.mediaId}`, alice)).bytes!.equals(bytes)).toBe(true);

    const tooBig = await post('/v1/media', alice, { contentType: 'image/png', size: 2 * 1024 * 1024, sha256: sha256(bytes) });
    expect([tooBig.status, tooBig.json.error.code]).toEqual([413, 'payload_too_large']);
    const notAllowed = await post('/v1/media', alice, { contentType: 'application/x-msdownload', size: 10, sha256: sha256(bytes) });
    expect([notAllowed.status, notAllowed.json.error.code]).toEqual([400, 'bad_request']);
    for (const bad of [{}, { contentType: 'image/png', size: -1, sha256: sha256(bytes) }, { contentType: 'image/png', size: 10, sha256: 'ABC' }, { contentType: 'image/png', size: 10, sha256: sha256(bytes), extra: 1 }]) {
      expect((await post('/v1/media', alice, bad)).status).toBe(400);
    }
    expect((await http('/v1/media', null, { method: 'POST' })).status).toBe(401);
  });

  it('refuses an upload URL past its expiry', async () => {
    const alice = u('alice3');
    const bytes = randomBytes(512);
    const up = MediaUpload.parse((await post('/v1/media', alice, { contentType: 'application/pdf', size: bytes.length, sha256: sha256(bytes) })).json);
    expect(Date.parse(up.expiresAt) - Date.now()).toBeLessThanOrEqual(UPLOAD_EXPIRY_MS);
    // Waiting for the clock by design: the URL's own expiry is what is tested.
    await new Promise((r) => setTimeout(r, Date.parse(up.expiresAt) - Date.now() + 1_100));
    expect((await fetch(up.uploadUrl, { method: 'PUT', body: new Uint8Array(bytes), headers: up.uploadHeaders })).status).toBe(403);
    expect((await post(`/v1/media/${up.mediaId}/complete`, alice)).status).toBe(409);
  });

  it('stores the same bytes once for two senders; a forward re-uses the media; the object goes when the last message carrying it is deleted for everyone', async () => {
    const [alice, bob, carol] = [u('alice4'), u('bob4'), u('carol4')];
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    const ab = (await a.createConversation({ kind: 'direct', members: [bob] })).conversationId;
    const bc = (await b.createConversation({ kind: 'direct', members: [carol] })).conversationId;
    const bytes = await png(64, 48, Math.floor(Math.random() * 65_536));
    const first = await upload(alice, bytes);
    const second = await upload(bob, bytes);
    expect(second.mediaId).not.toBe(first.mediaId);
    expect(second.sha256).toBe(first.sha256);
    // One object for both: content-addressed, and no staging copies left.
    expect(await store.head(store.blobKey(first.sha256))).toMatchObject({ size: bytes.length });
    expect(await store.head(store.uploadKey(first.mediaId))).toBeNull();
    expect(await store.head(store.uploadKey(second.mediaId))).toBeNull();

    const m1 = await a.send({ conversationId: ab, body: { media: { mediaId: first.mediaId } } });
    const m2 = await b.send({ conversationId: bc, body: { media: { mediaId: second.mediaId } } });
    // bob cannot send alice's upload as his own.
    await expect(b.send({ conversationId: bc, body: { media: { mediaId: first.mediaId } } })).rejects.toMatchObject({ code: 'bad_request' });
    // carol gets alice's media by a forward: the same media id, no new upload, and she may download it.
    await eventually(async () => (await http(`/v1/conversations/${ab}/messages`, bob)).status, (s) => s === 200);
    const fwdArrives = live(c, bc, 2);
    await eventually(() => b.forward({ conversationId: bc, from: { conversationId: ab, messageId: m1.messageId } }).then(() => true, () => false), (ok) => ok);
    const fwd = await fwdArrives;
    expect(fwd.body).toMatchObject({ media: { mediaId: first.mediaId } });
    expect((await eventually(() => download(`/v1/media/${first.mediaId}`, carol), (d) => d.status === 302)).bytes!.equals(bytes)).toBe(true);

    // Delete every message carrying these bytes but one: the object stays.
    await a.delete(ab, m1.messageId, 'everyone');
    await b.delete(bc, fwd.messageId, 'everyone');
    // A marker proving the clean-up ran after those deletes were in the read models: alice's
    // upload (no message carries it now) is gone, and with it the download.
    await eventually(() => download(`/v1/media/${first.mediaId}`, alice), (d) => d.status === 404, 30_000);
    expect(await store.head(store.blobKey(first.sha256))).toMatchObject({ size: bytes.length });
    expect((await download(`/v1/media/${second.mediaId}`, carol)).status).toBe(302);
    // The last one: the bytes and the thumbnail go.
    await b.delete(bc, m2.messageId, 'everyone');
    await eventually(() => store.head(store.blobKey(first.sha256)), (h) => h === null, 30_000);
    expect(await store.head(store.thumbKey(first.sha256))).toBeNull();
    expect((await download(`/v1/media/${second.mediaId}`, carol)).status).toBe(404);
  });
});
