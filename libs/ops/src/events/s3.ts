import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, s3ConfigFromEnv } from '@chat/media';
import { ArchiveConfig, loadConfig } from '@chat/contracts';

/** The S3_* settings (libs/contracts config) an S3 client is made from. */
export interface S3Settings {
  S3_ENDPOINT?: string | undefined;
  S3_REGION: string;
  S3_ACCESS_KEY_ID?: string | undefined;
  S3_SECRET_ACCESS_KEY?: string | undefined;
  S3_FORCE_PATH_STYLE?: boolean | undefined;
}

/** An S3 client as the media store makes one: path-style for an endpoint, the SDK's credential chain unless keys are set. */
export function createS3(s: S3Settings): S3Client {
  return createS3Client({ ...s3ConfigFromEnv(s), bucket: '', prefix: '' });
}

/** The S3 settings and the archive's default location, as the archive app reads them. */
export const ArchiveLocationConfig = ArchiveConfig.pick({
  S3_ENDPOINT: true,
  S3_BUCKET: true,
  S3_REGION: true,
  S3_ACCESS_KEY_ID: true,
  S3_SECRET_ACCESS_KEY: true,
  S3_FORCE_PATH_STYLE: true,
  CHAT_ARCHIVE_BUCKET: true,
  CHAT_ARCHIVE_PREFIX: true,
});

export function loadArchiveLocationConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(ArchiveLocationConfig, env);
}

export interface S3Location {
  bucket: string;
  /** Without leading or trailing '/'; '' = the bucket's root. */
  prefix: string;
}

/** `s3://bucket[/prefix]`. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`"${url}" is not an S3 location (s3://bucket/prefix)`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (/\/\/|(^|\/)\.\.?(\/|$)/.test(prefix)) throw new Error(`"${url}": the prefix may not have empty, "." or ".." segments`);
  return { bucket: m[1]!, prefix };
}
