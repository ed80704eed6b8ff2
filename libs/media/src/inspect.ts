import { createHash } from 'node:crypto';
import sharp from 'sharp';

/** What the server learns from an uploaded object. */
export interface Inspection {
  size: number;
  sha256Hex: string;
  /** Images sharp can read (jpeg, png, webp, gif, avif, tiff): pixels, and a JPEG thumbnail whose longest side is at most `thumbnailPx` (never upscaled). */
  width?: number;
  height?: number;
  thumbnail?: { jpeg: Buffer; width: number; height: number };
}

export interface InspectOptions {
  thumbnailPx: number;
  /** Larger images are hashed only: decoding needs the whole file in memory. */
  maxImageBytes: number;
}

/** The formats read as images, whatever the declared type says (no SVG: it is a document, with references). */
const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'heif', 'tiff']);

/**
 * Hashes and counts the bytes as they stream by. For image/* types it keeps them (up to
 * maxImageBytes) and reads dimensions and makes the thumbnail; an image that cannot be read
 * is not an error, it only gets neither.
 */
export async function inspectStream(body: AsyncIterable<Uint8Array>, contentType: string, o: InspectOptions): Promise<Inspection> {
  const hash = createHash('sha256');
  let size = 0;
  let kept: Buffer[] | null = contentType.toLowerCase().startsWith('image/') ? [] : null;
  for await (const chunk of body) {
    hash.update(chunk);
    size += chunk.length;
    if (kept && size > o.maxImageBytes) kept = null;
    kept?.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  const found: Inspection = { size, sha256Hex: hash.digest('hex') };
  return kept && size > 0 ? { ...found, ...(await readImage(Buffer.concat(kept, size), o.thumbnailPx)) } : found;
}

async function readImage(bytes: Buffer, thumbnailPx: number): Promise<Pick<Inspection, 'width' | 'height' | 'thumbnail'>> {
  try {
    const meta = await sharp(bytes).metadata();
    if (!IMAGE_FORMATS.has(meta.format) || !meta.width || !meta.height) return {};
    // As displayed: EXIF orientation 5–8 swaps the sides.
    const swapped = (meta.orientation ?? 1) >= 5;
    const { data, info } = await sharp(bytes)
      .rotate()
      .resize(thumbnailPx, thumbnailPx, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 80, mozjpeg: true })
      .toBuffer({ resolveWithObject: true });
    return {
      width: swapped ? meta.height : meta.width,
      height: swapped ? meta.width : meta.height,
      thumbnail: { jpeg: data, width: info.width, height: info.height },
    };
  } catch {
    return {};
  }
}
