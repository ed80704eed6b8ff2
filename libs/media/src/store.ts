import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type BucketLocationConstraint,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createS3Client, isNotFound, type MediaStoreConfig } from './client';

export type { MediaStoreConfig };

/** The S3_* variables of the apps' config (libs/contracts/src/config.ts). */
export interface MediaEnv {
  S3_ENDPOINT?: string;
  S3_BUCKET: string;
  S3_REGION: string;
  S3_ACCESS_KEY_ID?: string;
  S3_SECRET_ACCESS_KEY?: string;
  S3_FORCE_PATH_STYLE?: boolean;
}

/** The S3 client settings of the S3_* variables. */
export function s3ConfigFromEnv(env: {
  S3_ENDPOINT?: string | undefined;
  S3_REGION: string;
  S3_ACCESS_KEY_ID?: string | undefined;
  S3_SECRET_ACCESS_KEY?: string | undefined;
  S3_FORCE_PATH_STYLE?: boolean | undefined;
}): Omit<MediaStoreConfig, 'bucket' | 'prefix'> {
  return {
    ...(env.S3_ENDPOINT ? { endpoint: env.S3_ENDPOINT } : {}),
    region: env.S3_REGION,
    ...(env.S3_ACCESS_KEY_ID ? { accessKeyId: env.S3_ACCESS_KEY_ID } : {}),
    ...(env.S3_SECRET_ACCESS_KEY ? { secretAccessKey: env.S3_SECRET_ACCESS_KEY } : {}),
    ...(env.S3_FORCE_PATH_STYLE !== undefined ? { forcePathStyle: env.S3_FORCE_PATH_STYLE } : {}),
  };
}

/**
 * MediaEnv from raw environment strings, with the apps' defaults (bucket chat-media, region
 * us-east-1), for scripts and tests; the apps parse theirs with the zod config.
 */
export function parseMediaEnv(env: Record<string, string | undefined>): MediaEnv {
  const set = (k: string) => env[k] || undefined;
  const pathStyle = set('S3_FORCE_PATH_STYLE');
  return {
    S3_ENDPOINT: set('S3_ENDPOINT'),
    S3_BUCKET: set('S3_BUCKET') ?? 'chat-media',
    S3_REGION: set('S3_REGION') ?? 'us-east-1',
    S3_ACCESS_KEY_ID: set('S3_ACCESS_KEY_ID'),
    S3_SECRET_ACCESS_KEY: set('S3_SECRET_ACCESS_KEY'),
    S3_FORCE_PATH_STYLE: pathStyle === undefined ? undefined : /^(true|1|yes|on|y|enabled)$/i.test(pathStyle),
  };
}

const MEDIA_ID = /^[A-Za-z0-9_-]{1,128}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;

/**
 * Media bytes in one S3-compatible bucket, under the namespace's prefix:
 *   <prefix>/uploads/<mediaId>    what a client PUT (staging; never served),
 *   <prefix>/blobs/<sha256>       verified bytes, stored once however many uploads had them,
 *   <prefix>/thumbs/<sha256>.jpg  the thumbnail the server made of an image.
 * Clients move the bytes themselves through presigned URLs; the server only signs, checks and copies.
 */
export class MediaStore {
  readonly config: MediaStoreConfig;
  private readonly s3: S3Client;

  constructor(cfg: MediaStoreConfig) {
    if (cfg.prefix.startsWith('/') || cfg.prefix.endsWith('/')) throw new Error(`media key prefix must not start or end with '/': ${cfg.prefix}`);
    this.config = { ...cfg };
    this.s3 = createS3Client(cfg);
  }

  static fromEnv(env: MediaEnv, prefix: string): MediaStore {
    return new MediaStore({ ...s3ConfigFromEnv(env), bucket: env.S3_BUCKET, prefix });
  }

  /** Staging key of one upload (clients PUT here; never served). */
  uploadKey(mediaId: string): string {
    if (!MEDIA_ID.test(mediaId)) throw new Error(`invalid media id: ${mediaId}`);
    return this.key(`uploads/${mediaId}`);
  }

  /** Content-addressed key of verified bytes. */
  blobKey(sha256Hex: string): string {
    return this.key(`blobs/${checkSha256(sha256Hex)}`);
  }

  thumbKey(sha256Hex: string): string {
    return this.key(`thumbs/${checkSha256(sha256Hex)}.jpg`);
  }

  /**
   * A presigned PUT for exactly these bytes: content-type, content-length and
   * x-amz-checksum-sha256 are signed, so S3 refuses any other type, length or content (S3
   * checks the checksum header against the body it receives). `headers` are what the client
   * must send with it; its HTTP library sets Content-Length from the body.
   */
  async presignPut(key: string, o: { contentType: string; size: number; sha256Hex: string; expiresInSec: number }): Promise<{ url: string; headers: Record<string, string> }> {
    const checksum = Buffer.from(checkSha256(o.sha256Hex), 'hex').toString('base64');
    const command = new PutObjectCommand({ Bucket: this.config.bucket, Key: key, ContentType: o.contentType, ContentLength: o.size, ChecksumSHA256: checksum });
    const url = await getSignedUrl(this.s3, command, {
      expiresIn: o.expiresInSec,
      signableHeaders: new Set(['content-type', 'content-length', 'x-amz-checksum-sha256']),
      // Left in the query string, the checksum would be a value S3 compares with nothing.
      unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
    });
    return { url, headers: { 'content-type': o.contentType, 'x-amz-checksum-sha256': checksum } };
  }

  /** A presigned GET; with contentType/filename the response carries them (response-content-type / -disposition). */
  async presignGet(key: string, o: { expiresInSec: number; contentType?: string; filename?: string }): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.config.bucket,
      Key: key,
      ...(o.contentType ? { ResponseContentType: o.contentType } : {}),
      ...(o.filename ? { ResponseContentDisposition: attachment(o.filename) } : {}),
    });
    return getSignedUrl(this.s3, command, { expiresIn: o.expiresInSec });
  }

  /**
   * Size and type of an object; null when there is none. AWS S3 answers a missing key with 403
   * instead of 404 to a principal without s3:ListBucket on the bucket: the apps' role needs it.
   */
  async head(key: string): Promise<{ size: number; contentType?: string } | null> {
    try {
      const r = await this.s3.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return { size: r.ContentLength ?? 0, ...(r.ContentType ? { contentType: r.ContentType } : {}) };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** The object's bytes as they arrive (rejects when there is no such object). */
  async getStream(key: string): Promise<NodeJS.ReadableStream> {
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
    if (!r.Body) throw new Error(`GetObject ${key}: no body`);
    return r.Body as Readable;
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.length }));
  }

  /** Server-side copy (CopyObject): the bytes do not pass through this process. */
  async copy(fromKey: string, toKey: string): Promise<void> {
    const source = `${this.config.bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`;
    await this.s3.send(new CopyObjectCommand({ Bucket: this.config.bucket, Key: toKey, CopySource: source }));
  }

  /** Deletes the objects; missing keys are not an error. */
  async delete(...keys: string[]): Promise<void> {
    if (keys.length === 1) {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: keys[0] }));
      return;
    }
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const r = await this.s3.send(new DeleteObjectsCommand({ Bucket: this.config.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length) throw new Error(`deleting ${failed.length} of ${batch.length} objects failed: ${failed.map((e) => `${e.Key}: ${e.Code}`).join(', ')}`);
    }
  }

  /**
   * Deletes every object under the prefix (a test namespace's, when it is disposed). Refused
   * for the prefix '', which would be the whole bucket.
   */
  async clear(): Promise<void> {
    if (!this.config.prefix) throw new Error('MediaStore.clear() needs a prefix: it would empty the whole bucket');
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: `${this.config.prefix}/`, ...(token ? { ContinuationToken: token } : {}) }));
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
      if (keys.length) await this.delete(...keys);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Creates the bucket if it is missing; fine if it exists. */
  async ensureBucket(): Promise<void> {
    if (await this.bucketExists()) return;
    try {
      const { region } = this.config;
      // us-east-1 is S3's default location and must not be named.
      await this.s3.send(new CreateBucketCommand({ Bucket: this.config.bucket, ...(region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}) }));
    } catch (e) {
      // Another process created it in between.
      if ((e as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw e;
    }
  }

  /** Object storage reachable and the bucket there (readiness). */
  async ping(): Promise<void> {
    if (!(await this.bucketExists())) throw new Error(`bucket ${this.config.bucket} does not exist at ${this.config.endpoint ?? `AWS S3 (${this.config.region})`}`);
  }

  close(): void {
    this.s3.destroy();
  }

  private key(rest: string): string {
    return this.config.prefix ? `${this.config.prefix}/${rest}` : rest;
  }

  private async bucketExists(): Promise<boolean> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }
}

function checkSha256(hex: string): string {
  if (!SHA256_HEX.test(hex)) throw new Error(`not a lowercase hex SHA-256: ${hex}`);
  return hex;
}

/** RFC 6266: an ASCII fallback for old clients, the exact name (UTF-8) for the rest. */
function attachment(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const exact = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}
