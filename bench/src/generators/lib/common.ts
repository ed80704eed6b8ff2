/**
 * Helpers shared by the bench generators: argument parsing, progress and result output,
 * token signing, SDK clients over `ws` (optionally bound to a local source address), a
 * bounded-concurrency map, percentiles and a file barrier between processes.
 */
import { existsSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { ChatClient, type ChatClientOptions } from '@chat/client';

/** Generator arguments: JSON in argv[2], or in the BENCH_ARGS environment variable. */
export function readArgs<T>(): T {
  const raw = process.env['BENCH_ARGS'] ?? process.argv[2];
  if (!raw) throw new Error('generator arguments missing: pass JSON as argv[2] or BENCH_ARGS');
  return JSON.parse(raw) as T;
}

/** A progress line on stderr (the parent shows it). */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Prints the result as the last stdout line and exits. */
export function finish(result: unknown): never {
  // Exit once stdout is flushed; open sockets must not keep the process alive.
  process.stdout.write(`\n${JSON.stringify(result)}\n`, () => process.exit(0));
  throw new Error('exiting');
}

/** Runs `main`; any failure is printed (stderr) with a JSON error line on stdout, exit 1. */
export function runMain(main: () => Promise<unknown>): void {
  main().then(
    (r) => {
      process.stdout.write(`\n${JSON.stringify(r)}\n`, () => process.exit(0));
    },
    (e: unknown) => {
      progress(`generator failed: ${(e as Error)?.stack ?? String(e)}`);
      process.stdout.write(`\n${JSON.stringify({ error: (e as Error)?.message ?? String(e) })}\n`, () => process.exit(1));
    },
  );
}

const keys = new Map<string, Uint8Array>();
/** An HS256 client token, signed as the edge expects (sub, did, exp). */
export async function signToken(secret: string, userId: string, deviceId = 'd1', ttlSeconds = 4 * 3600): Promise<string> {
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = new TextEncoder().encode(secret)));
  return new SignJWT({ did: deviceId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(key);
}

/** An SDK client over `ws`, bound to `localAddress` when given (more ephemeral ports). */
export function makeClient(url: string | string[], token: string, opts: Partial<ChatClientOptions> & { localAddress?: string } = {}): ChatClient {
  const { localAddress, ...rest } = opts;
  return new ChatClient({
    url,
    token,
    requestTimeoutMs: 30_000,
    createSocket: (u) => new WebSocket(u, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) }) as unknown as ReturnType<NonNullable<ChatClientOptions['createSocket']>>,
    ...rest,
  });
}

/** Maps over `items` with at most `limit` calls in flight; results in input order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Retries `fn` up to `attempts` times with a short linear backoff. */
export async function retry<T>(fn: () => Promise<T>, attempts = 3, delayMs = 500): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      await sleep(delayMs * (i + 1));
    }
  }
  throw last;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (n: number, digits = 1) => +n.toFixed(digits);

/** {p50, p90, p99, max} of a list of numbers, rounded. */
export function summary(values: number[], digits = 1): { p50: number; p90: number; p99: number; max: number; n: number } {
  const s = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(s, 50), digits), p90: round(percentile(s, 90), digits), p99: round(percentile(s, 99), digits), max: round(s.at(-1) ?? NaN, digits), n: s.length };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const nowMs = () => performance.timeOrigin + performance.now();

/**
 * A barrier between processes on the same machine, through files in `dir`: `arrive(name)`
 * writes `<name>.ready` (with a JSON payload); `released()` is true once `release` exists.
 */
export const barrier = {
  arrive(dir: string, name: string, payload: unknown = {}): void {
    writeFileSync(join(dir, `${name}.ready`), JSON.stringify(payload));
  },
  arrivedCount(dir: string): number {
    return readdirSync(dir).filter((f) => f.endsWith('.ready')).length;
  },
  release(dir: string): void {
    writeFileSync(join(dir, 'release'), String(Date.now()));
  },
  released(dir: string): boolean {
    return existsSync(join(dir, 'release'));
  },
  async waitReleased(dir: string, timeoutMs: number, pollMs = 100): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (existsSync(join(dir, 'release'))) return true;
      await sleep(pollMs);
    }
    return false;
  },
};

/** Source addresses 127.0.0.1 … 127.0.0.n: each has its own ephemeral port range to 127.0.0.1. */
export const loopbackAddresses = (n: number) => Array.from({ length: Math.max(1, n) }, (_, i) => `127.0.0.${i + 1}`);
