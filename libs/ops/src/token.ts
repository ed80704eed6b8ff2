import { SignJWT } from 'jose';
import { DEV_JWT_SECRET, DeviceId, parseDuration, UserId } from '@chat/contracts';

export interface TokenOptions {
  userId: string;
  /** The `did` claim; the edge's default device id when omitted. */
  deviceId?: string;
  /** Lifetime, e.g. "24h" (see parseDuration). */
  ttl?: string;
  /** HS256 secret; defaults to CHAT_JWT_SECRET, then the development secret. */
  secret?: string;
  env?: Record<string, string | undefined>;
  /** Seconds since the epoch; for reproducible tokens in tests. */
  now?: number;
}

/** Resolves the signing secret the same way the edge does (loadEdgeConfig). */
export function resolveSecret(secret: string | undefined, env: Record<string, string | undefined> = process.env): string {
  const s = secret ?? env['CHAT_JWT_SECRET'];
  if (s) return s;
  if ((env['NODE_ENV'] ?? 'development') === 'production') {
    throw new Error('NODE_ENV=production: pass --secret or set CHAT_JWT_SECRET; the development secret is refused');
  }
  return DEV_JWT_SECRET;
}

function checkId(what: string, schema: typeof UserId, value: string): string {
  const res = schema.safeParse(value);
  if (!res.success) throw new Error(`invalid ${what} "${value}": ${res.error.issues[0]?.message ?? 'malformed'}`);
  return res.data;
}

/** A client token as docs/protocol.md describes it: HS256 with sub, did, iat and exp. */
export async function mintToken(opts: TokenOptions): Promise<string> {
  const sub = checkId('user id', UserId, opts.userId);
  const did = checkId('device id', DeviceId, opts.deviceId ?? 'default');
  const iat = opts.now ?? Math.floor(Date.now() / 1000);
  const ttlSeconds = Math.ceil(parseDuration(opts.ttl ?? '24h') / 1000);
  if (ttlSeconds <= 0) throw new Error('ttl must be positive');
  return new SignJWT({ did })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(new TextEncoder().encode(resolveSecret(opts.secret, opts.env)));
}
