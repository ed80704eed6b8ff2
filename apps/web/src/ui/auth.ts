import { DeviceId, UserId } from '@chat/contracts';
import { z } from 'zod';
import { devToken } from './api';
import type { Auth } from './session';

const AUTH_KEY = 'chat.web.auth';
const DEVICE_KEY = 'chat.web.device';
/** A token this close to its expiry is replaced (development sign-in) or asked for again. */
const EXPIRY_MARGIN_MS = 60_000;

const StoredAuth = z.object({ userId: UserId, deviceId: DeviceId, token: z.string().min(1), dev: z.boolean() });

/** This browser's device id: one per browser profile, so two profiles are two devices of a user. */
export function deviceId(): string {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id || !DeviceId.safeParse(id).success) {
    id = `web-${crypto.getRandomValues(new Uint32Array(2)).reduce((s, n) => s + n.toString(36), '')}`.slice(0, 64);
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

/** The claims the page needs from a client token (it cannot check the signature: the edge does). */
export function tokenClaims(token: string): { sub: string; did: string; exp: number } {
  const part = token.split('.')[1];
  if (!part) throw new Error('not a JWT (three dot-separated parts)');
  let claims: unknown;
  try {
    claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    throw new Error('not a JWT: its claims are not base64url JSON');
  }
  const parsed = z.object({ sub: UserId, did: DeviceId.optional(), exp: z.number() }).safeParse(claims);
  if (!parsed.success) throw new Error(`the token's claims are not a client token's: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { sub: parsed.data.sub, did: parsed.data.did ?? 'default', exp: parsed.data.exp };
}

/** Expired, or about to: a development sign-in asks for a new one. */
export const expiresSoon = (token: string) => tokenClaims(token).exp * 1000 - EXPIRY_MARGIN_MS < Date.now();

export function saveAuth(auth: Auth): void {
  localStorage.setItem(AUTH_KEY, JSON.stringify(auth));
}

export function clearAuth(): void {
  localStorage.removeItem(AUTH_KEY);
}

/** The stored sign-in, with a fresh development token when it ran out; null when the user must sign in. */
export async function storedAuth(devSignIn: boolean): Promise<Auth | null> {
  let stored: unknown = null;
  try {
    stored = JSON.parse(localStorage.getItem(AUTH_KEY) ?? 'null');
  } catch {
    // unreadable: sign in again
  }
  const parsed = StoredAuth.safeParse(stored);
  if (!parsed.success) return null;
  const auth = parsed.data;
  try {
    if (!expiresSoon(auth.token)) return auth;
  } catch {
    return null;
  }
  if (!auth.dev || !devSignIn) return null;
  return signInDev(auth.userId);
}

/** Development sign-in by name (POST /dev/token) as this browser's device. */
export async function signInDev(userId: string): Promise<Auth> {
  const t = await devToken({ userId, deviceId: deviceId() });
  const auth = { userId: t.userId, deviceId: t.deviceId, token: t.token, dev: true };
  saveAuth(auth);
  return auth;
}

/** Sign-in with a token from elsewhere (`npx chatctl token alice`). */
export function signInWithToken(token: string): Auth {
  const claims = tokenClaims(token.trim());
  if (claims.exp * 1000 < Date.now()) throw new Error('this token has expired');
  const auth = { userId: claims.sub, deviceId: claims.did, token: token.trim(), dev: false };
  saveAuth(auth);
  return auth;
}
