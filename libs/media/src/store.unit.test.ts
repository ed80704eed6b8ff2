import { describe, expect, it } from 'vitest';
import { MediaStore, parseMediaEnv } from './store';

const SHA = 'a'.repeat(64);
const store = (prefix: string) => new MediaStore({ endpoint: 'http://127.0.0.1:1', bucket: 'b', region: 'us-east-1', prefix });

describe('MediaStore keys', () => {
  it('puts uploads, blobs and thumbnails under the prefix', () => {
    const s = store('t1234abcd');
    expect(s.uploadKey('01JABCDEF')).toBe('t1234abcd/uploads/01JABCDEF');
    expect(s.blobKey(SHA)).toBe(`t1234abcd/blobs/${SHA}`);
    expect(s.thumbKey(SHA)).toBe(`t1234abcd/thumbs/${SHA}.jpg`);
    s.close();
  });

  it('has no leading slash without a prefix', () => {
    const s = store('');
    expect(s.uploadKey('01JABCDEF')).toBe('uploads/01JABCDEF');
    expect(s.blobKey(SHA)).toBe(`blobs/${SHA}`);
    expect(s.thumbKey(SHA)).toBe(`thumbs/${SHA}.jpg`);
    s.close();
  });

  it('refuses ids and hashes that would make other keys', () => {
    const s = store('ns');
    expect(() => s.uploadKey('../blobs/x')).toThrow(/invalid media id/);
    expect(() => s.uploadKey('')).toThrow(/invalid media id/);
    expect(() => s.blobKey('A'.repeat(64))).toThrow(/SHA-256/);
    expect(() => s.thumbKey('abc')).toThrow(/SHA-256/);
    s.close();
  });

  it('refuses a prefix with a slash at either end', () => {
    expect(() => store('/ns')).toThrow(/prefix/);
    expect(() => store('ns/')).toThrow(/prefix/);
  });

  it('keeps the config, path style defaulting on with an endpoint', () => {
    const s = MediaStore.fromEnv({ S3_ENDPOINT: 'http://127.0.0.1:1', S3_BUCKET: 'b', S3_REGION: 'eu-west-1' }, 'ns');
    expect(s.config).toEqual({ endpoint: 'http://127.0.0.1:1', bucket: 'b', region: 'eu-west-1', prefix: 'ns' });
    s.close();
  });
});

describe('parseMediaEnv', () => {
  it('applies the defaults and reads empty as unset', () => {
    expect(parseMediaEnv({ S3_ENDPOINT: '', S3_FORCE_PATH_STYLE: '' })).toEqual({
      S3_ENDPOINT: undefined,
      S3_BUCKET: 'chat-media',
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: undefined,
      S3_SECRET_ACCESS_KEY: undefined,
      S3_FORCE_PATH_STYLE: undefined,
    });
  });

  it('reads the path-style switch as a boolean', () => {
    expect(parseMediaEnv({ S3_FORCE_PATH_STYLE: 'true' }).S3_FORCE_PATH_STYLE).toBe(true);
    expect(parseMediaEnv({ S3_FORCE_PATH_STYLE: 'false' }).S3_FORCE_PATH_STYLE).toBe(false);
  });
});
