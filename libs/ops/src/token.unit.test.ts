import { describe, expect, it } from 'vitest';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { DEV_JWT_SECRET } from '@chat/contracts';
import { mintToken } from './token';
import { formatTable } from './table';

const key = (s: string) => new TextEncoder().encode(s);

describe('mintToken', () => {
  it('signs sub, did, iat and exp with HS256 and the development secret by default', async () => {
    const token = await mintToken({ userId: 'alice', deviceId: 'phone', ttl: '2h', now: 1_000, env: {} });
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    const { payload } = await jwtVerify(token, key(DEV_JWT_SECRET), { currentDate: new Date(2_000_000) });
    expect(payload).toEqual({ sub: 'alice', did: 'phone', iat: 1_000, exp: 1_000 + 7_200 });
  });

  it('uses CHAT_JWT_SECRET, and an explicit secret over it', async () => {
    const fromEnv = await mintToken({ userId: 'bob', env: { CHAT_JWT_SECRET: 'env-secret' } });
    await expect(jwtVerify(fromEnv, key('env-secret'))).resolves.toBeDefined();
    const explicit = await mintToken({ userId: 'bob', secret: 'cli-secret', env: { CHAT_JWT_SECRET: 'env-secret' } });
    await expect(jwtVerify(explicit, key('cli-secret'))).resolves.toBeDefined();
  });

  it('defaults the device to "default" and the lifetime to 24h', async () => {
    const { payload } = await jwtVerify(await mintToken({ userId: 'carol', env: {} }), key(DEV_JWT_SECRET));
    expect(payload.did).toBe('default');
    expect(payload.exp! - payload.iat!).toBe(86_400);
  });

  it.each([
    ['production without a secret', { userId: 'alice', env: { NODE_ENV: 'production' } }, /production/],
    ['a malformed user id', { userId: 'not ok', env: {} }, /invalid user id/],
    ['a malformed device id', { userId: 'alice', deviceId: 'a/b', env: {} }, /invalid device id/],
    ['a malformed ttl', { userId: 'alice', ttl: 'soon', env: {} }, /invalid duration/],
    ['a zero ttl', { userId: 'alice', ttl: '0s', env: {} }, /ttl must be positive/],
  ])('refuses %s', async (_name, opts, error) => {
    await expect(mintToken(opts)).rejects.toThrow(error);
  });
});

describe('formatTable', () => {
  it('pads every column to its widest cell', () => {
    const rows = [{ name: 'proj-messages', pending: 12 }, { name: 'x', pending: 3 }];
    expect(formatTable(rows, [['name', 'CONSUMER'], ['pending', 'PENDING']])).toBe(
      ['CONSUMER       PENDING', 'proj-messages  12', 'x              3'].join('\n'),
    );
  });
});
