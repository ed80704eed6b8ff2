import { jwtVerify, errors as joseErrors } from 'jose';
import { ChatError, DeviceId, UserId } from '@chat/contracts';

export interface Principal {
  userId: string;
  deviceId: string;
}

/**
 * Verifies a client token: HS256 only (no `none`, no algorithm confusion with public keys),
 * `exp` required, `sub` and `did` in the id alphabet. Every failure is `unauthorized`.
 */
export class TokenVerifier {
  private readonly key: Uint8Array;
  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string | undefined): Promise<Principal> {
    if (!token) throw new ChatError('unauthorized', 'missing token');
    if (token.length > 4096) throw new ChatError('unauthorized', 'token too long');
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] });
      const sub = UserId.safeParse(payload.sub);
      if (!sub.success) throw new ChatError('unauthorized', 'invalid sub claim');
      const did = DeviceId.safeParse(payload['did'] ?? 'default');
      if (!did.success) throw new ChatError('unauthorized', 'invalid did claim');
      return { userId: sub.data, deviceId: did.data };
    } catch (e) {
      if (e instanceof ChatError) throw e;
      const reason = e instanceof joseErrors.JWTExpired ? 'token expired' : 'invalid token';
      throw new ChatError('unauthorized', reason, { cause: e });
    }
  }
}

/** The token from `Authorization: Bearer …` or, for browsers, `?access_token=…`. */
export function tokenFrom(headers: Record<string, string | string[] | undefined>, query: unknown): string | undefined {
  const auth = headers['authorization'];
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  const q = query as Record<string, unknown> | undefined;
  return typeof q?.['access_token'] === 'string' ? (q['access_token'] as string) : undefined;
}
