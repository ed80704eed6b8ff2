import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MediaInspector } from './inspector';
import { MediaStore, parseMediaEnv } from './store';

const env = inject('chatEnv');
// Our own prefix, apart from the run's namespace: removed whole at the end.
const store = MediaStore.fromEnv(parseMediaEnv(env), `${env['CHAT_NS']}-media-${randomBytes(3).toString('hex')}`);
const inspector = new MediaInspector(store.config, { workers: 2 });

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const newId = () => randomBytes(8).toString('hex');

async function upload(key: string, bytes: Buffer, contentType: string, expiresInSec = 60): Promise<Response> {
  const { url, headers } = await store.presignPut(key, { contentType, size: bytes.length, sha256Hex: sha256(bytes), expiresInSec });
  return fetch(url, { method: 'PUT', headers, body: new Uint8Array(bytes) });
}

beforeAll(async () => {
  await store.ensureBucket();
});

afterAll(async () => {
  await inspector.close();
  await store.clear();
  store.close();
});

describe('MediaStore against S3', () => {
  it('is ready: the bucket is there', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
    await expect(store.ensureBucket()).resolves.toBeUndefined();
  });

  it('signs the type, length and SHA-256 of a presigned PUT, and stores exactly those bytes', async () => {
    const bytes = randomBytes(200_001);
    const key = store.uploadKey(newId());
    const { url, headers } = await store.presignPut(key, { contentType: 'video/mp4', size: bytes.length, sha256Hex: sha256(bytes), expiresInSec: 60 });

    const q = new URL(url).searchParams;
    expect(q.get('X-Amz-SignedHeaders')?.split(';')).toEqual(expect.arrayContaining(['content-length', 'content-type', 'x-amz-checksum-sha256']));
    expect(q.get('X-Amz-Expires')).toBe('60');
    expect(headers).toEqual({ 'content-type': 'video/mp4', 'x-amz-checksum-sha256': createHash('sha256').update(bytes).digest('base64') });

    const res = await fetch(url, { method: 'PUT', headers, body: new Uint8Array(bytes) });
    expect(res.status).toBe(200);
    expect(await store.head(key)).toEqual({ size: bytes.length, contentType: 'video/mp4' });
    expect(await inspector.inspect(key, 'video/mp4')).toEqual({ size: bytes.length, sha256Hex: sha256(bytes) });
    await store.delete(key);
  });

  it('refuses a presigned PUT past its expiry (403)', async () => {
    const bytes = randomBytes(64);
    const key = store.uploadKey(newId());
    const { url, headers } = await store.presignPut(key, { contentType: 'text/plain', size: bytes.length, sha256Hex: sha256(bytes), expiresInSec: 1 });
    // A wall-clock wait by design: the server compares the URL's signing time (whole
    // seconds) plus X-Amz-Expires with its own clock, so only real time can expire it.
    await new Promise((r) => setTimeout(r, 1_500));
    const res = await fetch(url, { method: 'PUT', headers, body: new Uint8Array(bytes) });
    expect(res.status).toBe(403);
    expect(await store.head(key)).toBeNull();
  });

  it('serves the exact bytes through a presigned GET, with the type and file name asked for', async () => {
    const bytes = randomBytes(70_000);
    const key = store.blobKey(sha256(bytes));
    await store.put(key, bytes, 'application/octet-stream');

    const plain = await fetch(await store.presignGet(key, { expiresInSec: 60 }));
    expect(plain.status).toBe(200);
    expect(Buffer.from(await plain.arrayBuffer()).equals(bytes)).toBe(true);

    const named = await fetch(await store.presignGet(key, { expiresInSec: 60, contentType: 'application/pdf', filename: 'Reçu "mars".pdf' }));
    expect(named.status).toBe(200);
    expect(named.headers.get('content-type')).toBe('application/pdf');
    expect(named.headers.get('content-disposition')).toBe(`attachment; filename="Re_u _mars_.pdf"; filename*=UTF-8''Re%C3%A7u%20%22mars%22.pdf`);
    expect(Buffer.from(await named.arrayBuffer()).equals(bytes)).toBe(true);
    await store.delete(key);
  });

  it('streams an object', async () => {
    const bytes = randomBytes(10_000);
    const key = store.uploadKey(newId());
    await store.put(key, bytes, 'application/zip');
    const chunks: Buffer[] = [];
    for await (const c of (await store.getStream(key)) as AsyncIterable<Buffer>) chunks.push(c);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    await store.delete(key);
  });

  it('copies server-side and deletes, missing keys included', async () => {
    const bytes = randomBytes(5_000);
    const from = store.uploadKey(newId());
    const to = store.blobKey(sha256(bytes));
    await store.put(from, bytes, 'audio/ogg');
    await store.copy(from, to);
    expect(await store.head(to)).toEqual({ size: bytes.length, contentType: 'audio/ogg' });

    await store.delete(from, to, store.uploadKey(newId()));
    expect(await store.head(from)).toBeNull();
    expect(await store.head(to)).toBeNull();
    await expect(store.delete(from)).resolves.toBeUndefined();
    await expect(store.delete()).resolves.toBeUndefined();
  });

  it('reports a missing key: head null, getStream and inspect reject', async () => {
    const key = store.uploadKey(newId());
    expect(await store.head(key)).toBeNull();
    await expect(store.getStream(key)).rejects.toMatchObject({ name: 'NoSuchKey' });
    await expect(inspector.inspect(key, 'image/png')).rejects.toMatchObject({ name: 'NoSuchKey', message: expect.stringContaining(key) });
  });
});

describe('MediaInspector', () => {
  it('reads an image: its size and a JPEG thumbnail, longest side 320', async () => {
    const png = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#369' } }).png().toBuffer();
    const key = store.uploadKey(newId());
    expect((await upload(key, png, 'image/png')).status).toBe(200);

    const found = await inspector.inspect(key, 'image/png');
    expect(found).toMatchObject({ size: png.length, sha256Hex: sha256(png), width: 1200, height: 800, thumbnail: { width: 320, height: 213 } });
    const thumb = await sharp(found.thumbnail!.jpeg).metadata();
    expect([thumb.format, thumb.width, thumb.height]).toEqual(['jpeg', 320, 213]);
    await store.delete(key);
  });

  it('never enlarges a small image', async () => {
    const png = await sharp({ create: { width: 40, height: 90, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    const key = store.uploadKey(newId());
    await store.put(key, png, 'image/png');
    expect(await inspector.inspect(key, 'image/png')).toMatchObject({ width: 40, height: 90, thumbnail: { width: 40, height: 90 } });
    await store.delete(key);
  });

  it('takes an unreadable image for bytes: hash and size, no dimensions, no thumbnail', async () => {
    const bytes = randomBytes(3_000);
    const key = store.uploadKey(newId());
    await store.put(key, bytes, 'image/jpeg');
    expect(await inspector.inspect(key, 'image/jpeg')).toEqual({ size: bytes.length, sha256Hex: sha256(bytes) });
    await store.delete(key);
  });

  it('does not decode what is not declared an image', async () => {
    const png = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#fff' } }).png().toBuffer();
    const key = store.uploadKey(newId());
    await store.put(key, png, 'application/octet-stream');
    expect(await inspector.inspect(key, 'application/octet-stream')).toEqual({ size: png.length, sha256Hex: sha256(png) });
    await store.delete(key);
  });

  it('runs inspections side by side in its workers, and refuses after close', async () => {
    const blobs = Array.from({ length: 11 }, (_, i) => randomBytes(50_000 + i));
    const keys = blobs.map(() => store.uploadKey(newId()));
    await Promise.all(blobs.map((b, i) => store.put(keys[i]!, b, 'application/octet-stream')));
    const found = await Promise.all(keys.map((k) => inspector.inspect(k, 'application/octet-stream')));
    expect(found).toEqual(blobs.map((b) => ({ size: b.length, sha256Hex: sha256(b) })));
    await store.delete(...keys);

    const closed = new MediaInspector(store.config);
    await closed.close();
    await expect(closed.inspect(keys[0]!, 'text/plain')).rejects.toThrow(/closed/);
  });

  it('works in a process started as npm start starts the apps (node --import tsx), and lets it exit', async () => {
    const bytes = randomBytes(1_234);
    const key = store.uploadKey(newId());
    await store.put(key, bytes, 'text/plain');
    const script = `
      import { MediaInspector } from '@chat/media';
      const inspector = new MediaInspector(JSON.parse(process.env.MEDIA_CONFIG));
      console.log(JSON.stringify(await inspector.inspect(process.env.MEDIA_KEY, 'text/plain')));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      env: { ...process.env, MEDIA_CONFIG: JSON.stringify(store.config), MEDIA_KEY: key },
      encoding: 'utf8',
      timeout: 20_000,
    });
    // No close(): an idle pool must not keep the process alive.
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ size: bytes.length, sha256Hex: sha256(bytes) });
    await store.delete(key);
  });
});
