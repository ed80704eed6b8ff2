import type { PushPayload } from './payload';

export type GatewayResult =
  | { kind: 'ok'; status: number }
  /** 4xx other than 408/429: the request itself is wrong; retrying cannot help. */
  | { kind: 'rejected'; status: number; body: string }
  /** 5xx, 408, 429, a timeout or a connection error. */
  | { kind: 'retry'; status?: number; error?: string; retryAfterMs?: number };

/** Classifies an HTTP status: 2xx ok, 408/429/5xx retry, other 4xx (and 3xx) rejected. */
export function classifyStatus(status: number): 'ok' | 'retry' | 'rejected' {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'rejected';
}

/** Exponential backoff for a job's next delivery: 1 s doubling, capped at 60 s. */
export const retryDelayMs = (deliveryCount: number): number => Math.min(60_000, 1_000 * 2 ** Math.max(0, deliveryCount - 1));

/**
 * POSTs one push to the gateway (global fetch). `Idempotency-Key` names the push, so a gateway
 * may drop a repeat of a request whose answer was lost.
 */
export async function postPush(
  url: string,
  payload: PushPayload,
  opts: { timeoutMs: number; idempotencyKey: string; token?: string },
): Promise<GatewayResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': opts.idempotencyKey,
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    return { kind: 'retry', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  const body = await res.text().catch(() => '');
  const kind = classifyStatus(res.status);
  if (kind === 'ok') return { kind, status: res.status };
  if (kind === 'rejected') return { kind, status: res.status, body: body.slice(0, 500) };
  const ra = Number(res.headers.get('retry-after'));
  return { kind, status: res.status, ...(Number.isFinite(ra) && ra > 0 ? { retryAfterMs: ra * 1000 } : {}) };
}
