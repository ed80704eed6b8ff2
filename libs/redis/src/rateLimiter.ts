import type { Redis } from 'ioredis';

/**
 * Token buckets: `burst` tokens at most, refilled continuously at `perMinute` tokens a minute.
 * A request takes one token; with none left it is refused with the time until one is back.
 */
export interface BucketSpec {
  /** Sustained rate, tokens per minute; 0 turns the limit off. */
  perMinute: number;
  /** Bucket size: how many may go at once after a quiet period. */
  burst: number;
}

export interface TakeResult {
  allowed: boolean;
  /** When refused: milliseconds until a token is available (≥ 1). 0 when allowed. */
  retryAfterMs: number;
}

const ALLOWED: TakeResult = { allowed: true, retryAfterMs: 0 };

/**
 * An in-memory token bucket (one process). Used for per-connection frame rates and as the
 * fallback of the shared limiter while Redis is unreachable.
 */
export class LocalTokenBucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly spec: BucketSpec,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = spec.burst;
    this.at = now();
  }

  take(cost = 1): TakeResult {
    if (this.spec.perMinute <= 0) return ALLOWED;
    const now = this.now();
    const perMs = this.spec.perMinute / 60_000;
    this.tokens = Math.min(this.spec.burst, this.tokens + Math.max(0, now - this.at) * perMs);
    this.at = now;
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return ALLOWED;
    }
    return { allowed: false, retryAfterMs: Math.max(1, Math.ceil((cost - this.tokens) / perMs)) };
  }
}

/**
 * One atomic step of a token bucket stored in a hash {t: tokens, at: ms}. The clock is Redis's
 * own (TIME), so edges with skewed clocks share one bucket fairly. Returns {allowed, retryAfterMs}.
 * The key expires once the bucket would be full again: an idle user costs no memory.
 */
export const TOKEN_BUCKET_LUA = `
local key = KEYS[1]
local perMs = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', key, 't', 'at')
local tokens = tonumber(h[1])
local at = tonumber(h[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * perMs)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / perMs)
  if retry < 1 then retry = 1 end
end
redis.call('HSET', key, 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', key, math.ceil((burst - tokens) / perMs) + 1000)
return {allowed, retry}
`;

type WithBucket = { chatTokenBucket(key: string, perMs: string, burst: string, cost: string): Promise<[number, number]> };

export interface SharedLimiterOptions {
  /** How long to wait for Redis before falling back to the local bucket. */
  timeoutMs?: number;
  /** Called when Redis failed and the local bucket answered (for a metric / a log line). */
  onFallback?(err: unknown): void;
  now?: () => number;
}

/**
 * A token bucket per key shared by every edge, in Redis (one Lua script, atomic). Keys are
 * `ratelimit:<name>:{<id>}` under the client's namespace prefix.
 *
 * If Redis does not answer (down, or slower than `timeoutMs`), the limiter fails open onto a
 * local in-memory bucket with the same spec: each edge then enforces the limit on its own, so
 * a user spread over k edges may get up to k times the rate until Redis is back.
 */
export class SharedRateLimiter {
  private readonly local = new Map<string, LocalTokenBucket>();
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly name: string,
    private readonly spec: BucketSpec,
    private readonly opts: SharedLimiterOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 250;
    this.now = opts.now ?? Date.now;
    if (!(redis as unknown as Record<string, unknown>)['chatTokenBucket']) redis.defineCommand('chatTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  }

  static key(name: string, id: string): string {
    return `ratelimit:${name}:{${id}}`;
  }

  get enabled(): boolean {
    return this.spec.perMinute > 0;
  }

  async take(id: string, cost = 1): Promise<TakeResult> {
    if (!this.enabled) return ALLOWED;
    const key = SharedRateLimiter.key(this.name, id);
    let timer: NodeJS.Timeout | undefined;
    try {
      const call = (this.redis as unknown as WithBucket).chatTokenBucket(key, String(this.spec.perMinute / 60_000), String(this.spec.burst), String(cost));
      const timeout = new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`rate limiter: Redis did not answer in ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      const [allowed, retry] = await Promise.race([call, timeout]);
      // A healthy answer: the local fallback bucket is stale from now on.
      if (this.local.size) this.local.clear();
      return allowed === 1 ? ALLOWED : { allowed: false, retryAfterMs: Number(retry) };
    } catch (err) {
      this.opts.onFallback?.(err);
      return this.localBucket(id).take(cost);
    } finally {
      clearTimeout(timer);
    }
  }

  private localBucket(id: string): LocalTokenBucket {
    let b = this.local.get(id);
    if (!b) {
      // Bounded: a long Redis outage with many users just restarts buckets (fails open).
      if (this.local.size >= 100_000) this.local.clear();
      this.local.set(id, (b = new LocalTokenBucket(this.spec, this.now)));
    }
    return b;
  }
}
