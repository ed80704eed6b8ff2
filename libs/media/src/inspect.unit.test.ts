import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { inspectStream } from './inspect';

const OPTIONS = { thumbnailPx: 320, maxImageBytes: 1024 * 1024 };
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The bytes in chunks of 1000, as they come off a socket. */
const chunked = (b: Buffer) => Readable.from(Array.from({ length: Math.ceil(b.length / 1000) }, (_, i) => b.subarray(i * 1000, (i + 1) * 1000)));

describe('inspectStream', () => {
  it('hashes and counts the bytes across chunks', async () => {
    const bytes = randomBytes(12_345);
    expect(await inspectStream(chunked(bytes), 'video/mp4', OPTIONS)).toEqual({ size: bytes.length, sha256Hex: sha256(bytes) });
  });

  it('an empty object has the empty hash and no image', async () => {
    expect(await inspectStream(chunked(Buffer.alloc(0)), 'image/png', OPTIONS)).toEqual({ size: 0, sha256Hex: sha256(Buffer.alloc(0)) });
  });

  it('reports the sides as displayed: an EXIF-rotated JPEG stands upright', async () => {
    const jpeg = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#963' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect(await inspectStream(chunked(jpeg), 'image/jpeg', OPTIONS)).toMatchObject({ width: 800, height: 1200, thumbnail: { width: 213, height: 320 } });
  });

  it('only hashes an image over the size bound', async () => {
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#123' } }).png().toBuffer();
    expect(await inspectStream(chunked(png), 'image/png', { ...OPTIONS, maxImageBytes: png.length - 1 })).toEqual({ size: png.length, sha256Hex: sha256(png) });
    expect(await inspectStream(chunked(png), 'image/png', { ...OPTIONS, maxImageBytes: png.length })).toMatchObject({ width: 300, height: 200 });
  });

  it('does not render SVG, whatever the declared type', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><rect width="100" height="50"/></svg>');
    expect(await inspectStream(chunked(svg), 'image/png', OPTIONS)).toEqual({ size: svg.length, sha256Hex: sha256(svg) });
  });
});
