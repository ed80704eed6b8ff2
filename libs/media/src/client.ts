import { S3Client } from '@aws-sdk/client-s3';

export interface MediaStoreConfig {
  /** S3-compatible endpoint (MinIO, Ceph, the local s3rver); unset = AWS S3 in `region`. */
  endpoint?: string;
  bucket: string;
  region: string;
  /** Unset = the AWS SDK's default credential chain (environment, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`http://host/bucket/key`); default: true when endpoint is set. */
  forcePathStyle?: boolean;
  /** Key prefix: the namespace (CHAT_NS) so tests and a running system share a bucket without touching each other's objects; '' = none. */
  prefix: string;
}

/** One S3 client for a config; the store and every inspector worker make their own. */
export function createS3Client(cfg: MediaStoreConfig): S3Client {
  return new S3Client({
    region: cfg.region,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    forcePathStyle: cfg.forcePathStyle ?? Boolean(cfg.endpoint),
    ...(cfg.accessKeyId && cfg.secretAccessKey ? { credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey } } : {}),
    // The SDK's default (a CRC32 on every upload and download) is not spoken by every
    // S3-compatible server; integrity is the SHA-256 signed into upload URLs and checked on
    // completion instead.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A 404 from S3: HeadObject reports `NotFound`, GetObject `NoSuchKey`, HeadBucket `NotFound`. */
export function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return err?.name === 'NotFound' || err?.name === 'NoSuchKey' || err?.name === 'NoSuchBucket' || err?.$metadata?.httpStatusCode === 404;
}
