import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { ChatError } from '@chat/contracts';
import { TokenVerifier } from './auth';

const SECRET = 'unit-test-secret-of-some-length!';
const NOW = 1_800_000_000;
const key = new TextEncoder().encode(SECRET);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const sign = (claims: JWTPayload, header: Record<string, unknown> = { alg: 'HS256' }, secret = key) =>
  new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret);
/** Signed by hand, for headers jose will not sign. */
const handSigned = (header: unknown, claims: unknown) => {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
};
const verifier = new TokenVerifier(SECRET, () => NOW * 1000);

function refusal(token: string | undefined): string {
  try {
    verifier.verify(token);
  } catch (e) {
    expect(e).toBeInstanceOf(ChatError);
    expect((e as ChatError).code).toBe('unauthorized');
    return (e as ChatError).message;
  }
  throw new Error('accepted');
}

describe('TokenVerifier', () => {
  it('accepts an HS256 token with sub, did and a future exp', async () => {
    expect(verifier.verify(await sign({ sub: 'alice', did: 'phone', exp: NOW + 60 }))).toEqual({ userId: 'alice', deviceId: 'phone' });
    expect(verifier.verify(await sign({ sub: 'bob', exp: NOW + 1, nbf: NOW, iat: NOW - 5 }))).toEqual({ userId: 'bob', deviceId: 'default' });
  });

  it('refuses every malformed, forged or expired token with a reason', async () => {
    const good = await sign({ sub: 'alice', exp: NOW + 60 });
    const [h, p, s] = good.split('.') as [string, string, string];
    // The last base64url character of a 32-byte signature carries 2 unused bits: another spelling of the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.at(-1)!);
    const respelled = `${h}.${p}.${s.slice(0, -1)}${alphabet[last ^ 1]}`;
    const cases: Record<string, [string | undefined, string]> = {
      missing: [undefined, 'missing token'],
      empty: ['', 'missing token'],
      tooLong: [`${h}.${b64({ sub: 'a', exp: NOW + 60, pad: 'x'.repeat(5000) })}.${s}`, 'token too long'],
      twoParts: [`${h}.${p}`, 'invalid token'],
      badCharacters: [`${h}.${p}.${s}=`, 'invalid token'],
      notJsonHeader: [`${Buffer.from('nope').toString('base64url')}.${p}.${s}`, 'invalid token'],
      algNone: [`${b64({ alg: 'none' })}.${p}.`, 'invalid token'],
      algNoneWithSig: [`${b64({ alg: 'none' })}.${p}.${s}`, 'invalid token'],
      hs512: [await sign({ sub: 'alice', exp: NOW + 60 }, { alg: 'HS512' }, new TextEncoder().encode(SECRET.padEnd(64, 'x'))), 'invalid token'],
      crit: [handSigned({ alg: 'HS256', crit: ['x-ext'], 'x-ext': 1 }, { sub: 'alice', exp: NOW + 60 }), 'invalid token'],
      handSignedOk: [handSigned({ alg: 'HS256' }, { sub: 'alice', exp: NOW + 60, did: 'bad did' }), 'invalid did claim'],
      wrongSecret: [await sign({ sub: 'alice', exp: NOW + 60 }, { alg: 'HS256' }, new TextEncoder().encode('another-secret')), 'invalid token'],
      tamperedPayload: [`${h}.${b64({ sub: 'admin', exp: NOW + 60 })}.${s}`, 'invalid token'],
      truncatedSig: [`${h}.${p}.${s.slice(0, -2)}`, 'invalid token'],
      respelledSig: [respelled, 'invalid token'],
      expired: [await sign({ sub: 'alice', exp: NOW - 1 }), 'token expired'],
      expiresNow: [await sign({ sub: 'alice', exp: NOW }), 'token expired'],
      noExp: [await sign({ sub: 'alice' }), 'invalid token'],
      stringExp: [await sign({ sub: 'alice', exp: String(NOW + 60) as unknown as number }), 'invalid token'],
      nbfFuture: [await sign({ sub: 'alice', exp: NOW + 60, nbf: NOW + 10 }), 'invalid token'],
      stringIat: [await sign({ sub: 'alice', exp: NOW + 60, iat: 'yesterday' as unknown as number }), 'invalid token'],
      noSub: [await sign({ exp: NOW + 60 }), 'invalid sub claim'],
      badSub: [await sign({ sub: 'eve/../admin', exp: NOW + 60 }), 'invalid sub claim'],
      badDid: [await sign({ sub: 'eve', did: 'a b', exp: NOW + 60 }), 'invalid did claim'],
    };
    for (const [name, [token, reason]] of Object.entries(cases)) expect([name, refusal(token)]).toEqual([name, reason]);
  });

  it('agrees with jose on which tokens are valid', async () => {
    const tokens = [
      await sign({ sub: 'a', exp: NOW + 60 }),
      await sign({ sub: 'a', exp: NOW - 60 }),
      await sign({ sub: 'a', exp: NOW + 60, nbf: NOW + 30 }),
      await sign({ sub: 'a', exp: NOW + 60 }, { alg: 'HS256', typ: 'JWT', kid: 'k1' }),
      await sign({ sub: 'a', exp: NOW + 60 }, { alg: 'HS256' }, new TextEncoder().encode('x'.repeat(32))),
      await sign({ sub: 'a', exp: NOW + 60 }, { alg: 'HS384' }, new TextEncoder().encode(SECRET.padEnd(48, 'y'))),
    ];
    for (const t of tokens) {
      const joseOk = await jwtVerify(t, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], currentDate: new Date(NOW * 1000) }).then(
        () => true,
        () => false,
      );
      const oursOk = (() => {
        try {
          verifier.verify(t);
          return true;
        } catch {
          return false;
        }
      })();
      expect([t, oursOk]).toEqual([t, joseOk]);
    }
  });
});
