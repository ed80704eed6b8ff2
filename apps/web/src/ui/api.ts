import { ChatError } from '@chat/client';
import { ErrorBody } from '@chat/contracts';
import type { z } from 'zod';
import { DevTokenResponse, PageConfig, type DevTokenRequest } from '../shared';

async function parsed<T extends z.ZodType>(res: Response, schema: T, what: string): Promise<z.infer<T>> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ChatError(res.ok ? 'internal' : 'unavailable', `${what}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) {
    const err = ErrorBody.safeParse(json);
    if (err.success) throw new ChatError(err.data.error.code, err.data.error.message);
    throw new ChatError(res.status === 401 ? 'unauthorized' : 'unavailable', `${what}: HTTP ${res.status}`);
  }
  const body = schema.safeParse(json);
  if (!body.success) throw new ChatError('internal', `${what}: unexpected answer (${body.error.issues[0]?.message ?? 'malformed'})`);
  return body.data;
}

/** `GET /config.json` of the web server. */
export async function loadPageConfig(): Promise<PageConfig> {
  return parsed(await fetch('/config.json', { cache: 'no-store' }), PageConfig, 'config.json');
}

/** `POST /dev/token`: development sign-in. */
export async function devToken(req: DevTokenRequest): Promise<DevTokenResponse> {
  const res = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
  return parsed(res, DevTokenResponse, 'sign-in');
}
