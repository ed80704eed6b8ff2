import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { ChatClient } from '@chat/client';
import { LIMITS } from '@chat/contracts';
import { percentile, token } from '../support/system';

/**
 * A WebSocket fuzzer for one edge: many connections send bad input of every kind (paced
 * under the per-connection frame rate, except the floods) and check each frame gets the answer
 * docs/protocol.md promises; meanwhile well-behaved pairs keep chatting on the same edge and
 * their send → deliver latency is measured. Deterministic frame sequence per seed.
 */
export interface FuzzOptions {
  wsUrl: string;
  httpUrl: string;
  /** The edge's PID, for its RSS (/proc/<pid>/status). */
  edgePid?: number;
  seed: number;
  /** Fuzz frames in all (flood frames included). */
  frames: number;
  connections: number;
  /** Frames per second per fuzz connection outside floods (the edge's default limit is 50). */
  ratePerConnection?: number;
  /** Well-behaved sender → receiver pairs chatting during the fuzz. */
  wellBehavedPairs?: number;
  /** Interval between one pair's sends (keep it under CHAT_SEND_RATE: 100/min by default). */
  wellBehavedIntervalMs?: number;
  /** Prefix for user ids (unique per run). */
  run: string;
  log?: (line: string) => void;
}

export const KINDS = [
  'valid',
  'invalid_json',
  'wrong_shape',
  'unknown_type',
  'huge_near_limit',
  'deep_nesting',
  'non_member',
  'invalid_utf8',
  'binary',
  'over_limit',
  'flood',
] as const;
export type Kind = (typeof KINDS)[number];

/** Relative weights of the kinds (the closing kinds are rare: each one costs a reconnect). */
const WEIGHTS: Record<Kind, number> = {
  valid: 14,
  invalid_json: 16,
  wrong_shape: 20,
  unknown_type: 10,
  huge_near_limit: 4,
  deep_nesting: 6,
  non_member: 4,
  invalid_utf8: 1.5,
  binary: 1.5,
  over_limit: 1,
  flood: 0.15,
};

/** What protocol.md says each kind gets. `rate_limited` and a 1008 close are always acceptable. */
const EXPECTED: Record<Kind, string[]> = {
  valid: ['pong', 'sync.batch'],
  invalid_json: ['error:bad_request'],
  wrong_shape: ['error:bad_request', 'error:payload_too_large'],
  unknown_type: ['error:bad_request'],
  huge_near_limit: ['error:bad_request', 'error:payload_too_large'],
  deep_nesting: ['error:bad_request'],
  non_member: ['error:forbidden', 'error:not_found'],
  invalid_utf8: ['close:1007'],
  binary: ['close:1003'],
  over_limit: ['close:1009'],
  flood: ['pong'],
};
const ALWAYS_OK = ['error:rate_limited', 'close:1008'];

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Frame = { data: string | Buffer; binary?: boolean; ref?: string };

/** The frames of one kind, from the random source. */
export function makeFrame(kind: Exclude<Kind, 'flood'>, rnd: () => number, n: number): Frame {
  const int = (k: number) => Math.floor(rnd() * k);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const ref = `f${n}`;
  const str = (len: number) => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 "\\{}[]:,\u00e9\u4e2d\ud83d\ude00';
    let s = '';
    for (let i = 0; i < len; i++) s += alphabet[int(alphabet.length)];
    return s;
  };
  switch (kind) {
    case 'valid':
      return rnd() < 0.8 ? { data: JSON.stringify({ type: 'ping', ref }), ref } : { data: JSON.stringify({ type: 'sync', ref, cursor: null, limit: 1 }), ref };
    case 'invalid_json':
      return {
        data: pick([
          () => '{' + str(int(40)),
          () => str(1 + int(60)),
          () => '',
          () => '{"type":"ping",}',
          () => "{'type':'ping'}",
          () => '{"type":"ping"'.repeat(1 + int(5)),
          () => 'NaN',
          () => '\u0000\u0001\u0002',
          () => JSON.stringify({ type: 'ping', ref }).slice(0, -1 - int(5)),
        ])(),
      };
    case 'wrong_shape':
      return {
        ref,
        data: JSON.stringify(
          pick<() => unknown>([
            () => int(1000),
            () => null,
            () => [1, 'two', { three: 3 }],
            () => str(10),
            () => ({ ref }),
            () => ({ type: int(5), ref }),
            () => ({ type: null, ref }),
            () => ({ type: ['message.send'], ref }),
            () => ({ type: 'message.send', clientMsgId: ref, conversationId: 'd-x', body: int(100) }),
            () => ({ type: 'message.send', clientMsgId: ref, conversationId: 'bad id!', body: { text: 'x' } }),
            () => ({ type: 'message.send', clientMsgId: '', conversationId: 'd-x', body: { text: 'x' } }),
            () => ({ type: 'message.send', clientMsgId: ref, conversationId: 'd-x', body: { text: 'x'.repeat(16_001) } }),
            () => ({ type: 'sync', ref, cursor: int(10), limit: -1 }),
            () => ({ type: 'sync', ref, cursor: null, limit: 10_000 }),
            () => ({ type: 'sync', ref, cursor: 'not-a-cursor' }),
            () => ({ type: 'message.read', conversationId: 'd-x', upToSeq: -5 }),
            () => ({ type: 'message.read', conversationId: 'd-x', upToSeq: 'all' }),
            () => ({ type: 'conversation.create', ref, kind: 'channel', members: [] }),
            () => ({ type: 'conversation.create', ref, kind: 'group', members: Array.from({ length: 3 }, () => str(70)) }),
            () => ({ type: 'conversation.mute', ref, conversationId: 'g-x', muted: 'yes' }),
            () => ({ type: 'message.delete', ref, conversationId: 'g-x', messageId: 'm', scope: 'universe' }),
            () => ({ type: 'ping', ref: 'x'.repeat(100) }),
            () => ({ type: 'conversation.update', ref, conversationId: 'g-x' }),
            () => ({ type: 'conversation.update', ref, conversationId: 'g-x', avatarUrl: 'javascript:alert(1)' }),
            () => ({ __proto__: { type: 'ping' }, constructor: { prototype: { polluted: true } }, ref }),
            // Media: only { mediaId } of a completed upload of the sender's; a client never describes media.
            () => ({ type: 'message.send', clientMsgId: ref, conversationId: 'd-x', body: { media: { mediaId: str(8) } } }),
            () => ({ type: 'message.send', clientMsgId: ref, conversationId: 'd-x', body: { media: { mediaId: 'm1', size: 1, sha256: 'a'.repeat(64), contentType: 'image/png' } } }),
            () => ({ type: 'message.send', clientMsgId: ref, conversationId: 'd-x', body: { media: 'm1' } }),
            () => ({ type: 'message.send', clientMsgId: ref, conversationId: 'd-x', body: { media: { mediaId: 'm1' }, text: '' } }),
            () => ({ type: 'message.edit', ref, conversationId: 'd-x', messageId: 'm', body: { media: { mediaId: 'm1' } } }),
            // Presence and typing.
            () => ({ type: 'presence.subscribe', ref, userIds: Array.from({ length: 501 }, (_, i) => `u${i}`) }),
            () => ({ type: 'presence.subscribe', ref, userIds: 'everyone' }),
            () => ({ type: 'presence.subscribe', ref, userIds: [str(70)] }),
            () => ({ type: 'typing', ref, conversationId: 'd-x', state: 'maybe' }),
            () => ({ type: 'typing', ref, conversationId: 'bad id!', state: 'start' }),
          ])(),
        ),
      };
    case 'unknown_type':
      return { ref, data: JSON.stringify({ type: pick(['message.sendx', 'admin', 'PING', '__proto__', 'constructor', str(8), 'x'.repeat(200)]), ref }) };
    case 'huge_near_limit': {
      // Just under the 64 KiB frame limit (in bytes).
      const room = LIMITS.maxFrameBytes - 200 - int(2000);
      return rnd() < 0.5
        ? { ref, data: JSON.stringify({ type: 'ping', ref: 'r'.repeat(room) }) }
        : { ref, data: JSON.stringify({ type: 'message.send', clientMsgId: ref, conversationId: 'd-x', body: { text: 'y'.repeat(room) } }) };
    }
    case 'deep_nesting': {
      const depth = 1000 + int(20_000);
      return rnd() < 0.5
        ? { data: '['.repeat(depth) + ']'.repeat(depth) }
        : { ref, data: `{"type":"message.send","ref":"${ref}","body":${'{"a":'.repeat(depth / 4)}1${'}'.repeat(depth / 4)}}` };
    }
    case 'non_member': {
      const conversationId = `d-${str(0)}${Math.floor(rnd() * 1e9).toString(36)}`;
      return rnd() < 0.8
        ? { ref, data: JSON.stringify({ type: 'message.send', clientMsgId: ref, conversationId, body: { text: 'hi' } }) }
        : // A typing frame has no ref of its own; the error carries the one the frame happens to hold.
          { ref, data: JSON.stringify({ type: 'typing', ref, conversationId, state: 'start' }) };
    }
    case 'invalid_utf8':
      return { data: Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), binary: false };
    case 'binary':
      return { data: Buffer.from(Array.from({ length: 1 + int(100) }, () => int(256))), binary: true };
    case 'over_limit':
      return { data: JSON.stringify({ type: 'ping', ref, pad: 'z'.repeat(LIMITS.maxFrameBytes + int(10_000)) }) };
  }
}

export function rssKiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface FuzzReport {
  seed: number;
  frames: number;
  seconds: number;
  connectionsOpened: number;
  /** Per kind: frames sent and the answers counted ("error:bad_request", "pong", "close:1009", …). */
  byKind: Record<string, { sent: number; answers: Record<string, number> }>;
  /** Totals: the figures the issue asks for. */
  totals: { badRequest: number; payloadTooLarge: number; rateLimited: number; timeouts: number };
  /** Closes the fuzz connections saw, by code (1000 = closed by the fuzzer itself). */
  closes: Record<number, number>;
  /** Answers not listed in protocol.md for their kind (should be empty). */
  unexpected: Record<string, number>;
  readyz: { checks: number; failures: number };
  edgeRssKiB?: { before: number; peak: number; after: number; growth: number };
  wellBehaved: { sent: number; delivered: number; failed: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** The media endpoints (POST /v1/media, …/complete, GET …): requests by status; `unexpected`: statuses protocol.md does not list for them. */
  media: { sent: number; byStatus: Record<number, number>; unexpected: Record<string, number> };
  /** The same for a user's settings, blocks and presence (PATCH /v1/me/settings, PUT/DELETE /v1/me/blocks/{id}, GET /v1/users/{id}/presence). */
  users: { sent: number; byStatus: Record<number, number>; unexpected: Record<string, number> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One fuzz connection at a time per slot: connect, send frames, reconnect when closed. */
class Slot {
  private ws?: WebSocket;
  private waiter?: (answer: string) => void;
  private token?: string;
  constructor(
    private readonly o: FuzzOptions,
    private readonly user: string,
    private readonly onOpen: () => void,
    private readonly onClose: (code: number) => void,
  ) {}

  private async open(): Promise<WebSocket> {
    this.token ??= await token(this.user, { deviceId: 'fz' });
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${this.o.wsUrl}?access_token=${this.token}`, { maxPayload: 8 * 1024 * 1024 });
          const timer = setTimeout(() => reject(new Error('hello timed out')), 10_000);
          ws.on('message', (d) => {
            const f = JSON.parse(d.toString()) as { type: string; code?: string };
            if (f.type === 'hello') {
              clearTimeout(timer);
              this.onOpen();
              return resolve(ws);
            }
            if (f.type === 'conversation.activity' || f.type === 'message.new') return;
            this.answer(f.type === 'error' ? `error:${f.code}` : f.type);
          });
          ws.on('close', (code) => {
            clearTimeout(timer);
            this.onClose(code);
            this.answer(`close:${code}`);
            reject(new Error(`closed ${code} before hello`));
          });
          ws.on('error', () => undefined);
          ws.on('unexpected-response', (_req, res) => {
            clearTimeout(timer);
            reject(new Error(`upgrade refused: ${res.statusCode}`));
          });
        });
      } catch (e) {
        if (attempt >= 20) throw e;
        await sleep(100 * (attempt + 1));
      }
    }
  }

  private answers: string[] = [];
  private answer(a: string): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(a);
    } else this.answers.push(a);
  }

  private async socket(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws;
    this.ws?.terminate();
    this.answers = [];
    this.ws = await this.open();
    return this.ws;
  }

  /** Sends one frame and waits for its first answer (an error, a pong, or a close). */
  async one(frame: Frame, timeoutMs = 10_000): Promise<string> {
    const ws = await this.socket();
    this.answers = [];
    const got = new Promise<string>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve('timeout');
      }, timeoutMs);
      this.waiter = (a) => {
        clearTimeout(timer);
        resolve(a);
      };
    });
    ws.send(frame.data, { binary: frame.binary ?? false });
    const a = await got;
    if (a.startsWith('close:')) this.ws = undefined;
    return a;
  }

  /** Sends `n` pings back to back; collects every answer until all came or the socket closed. */
  async flood(n: number): Promise<string[]> {
    const ws = await this.socket();
    this.answers = [];
    const out: string[] = [];
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      const take = (a: string) => {
        out.push(a);
        if (out.length >= n || a.startsWith('close:')) {
          clearTimeout(timer);
          this.waiter = undefined;
          return resolve();
        }
        this.waiter = take;
      };
      this.waiter = take;
    });
    for (let i = 0; i < n && ws.readyState === WebSocket.OPEN; i++) ws.send(JSON.stringify({ type: 'ping', ref: `fl${i}` }));
    await done;
    if (out.some((a) => a.startsWith('close:'))) this.ws = undefined;
    return out;
  }

  close(): void {
    this.ws?.close();
  }
}

/** Bad requests to the media endpoints, with a valid token: every one gets a 4xx the protocol lists (never a 5xx, never a redirect to something). */
async function fuzzMedia(o: FuzzOptions, rnd: () => number, requests: number): Promise<FuzzReport['media']> {
  const t = await token(`${o.run}-media`, { deviceId: 'fz' });
  const int = (k: number) => Math.floor(rnd() * k);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
  const bodies: Array<() => string> = [
    () => '{' + hex(int(20)),
    () => JSON.stringify(null),
    () => JSON.stringify({ contentType: 'image/png', size: 1 + int(1000), sha256: hex(63) }),
    () => JSON.stringify({ contentType: 'image/png', size: -int(10), sha256: hex(64) }),
    () => JSON.stringify({ contentType: 'image/png', size: 2 ** 53, sha256: hex(64) }),
    () => JSON.stringify({ contentType: 'image/png', size: 1e12, sha256: hex(64) }),
    () => JSON.stringify({ contentType: 'application/x-sh', size: 10, sha256: hex(64) }),
    () => JSON.stringify({ contentType: 'image/png; charset=x', size: 10, sha256: hex(64) }),
    () => JSON.stringify({ contentType: 'IMAGE/PNG', size: 10, sha256: hex(64).toUpperCase() }),
    () => JSON.stringify({ contentType: 'image/png', size: 10, sha256: hex(64), owner: 'someone-else' }),
    () => JSON.stringify({ contentType: ['image/png'], size: '10', sha256: hex(64) }),
  ];
  const ids = () => pick(['x', hex(26), '..%2F..%2Fetc', 'a'.repeat(65), '%00', encodeURIComponent('"<script>')]);
  const auth = { authorization: `Bearer ${t}` };
  return fuzzHttp(requests, pick, { post: [400, 413], complete: [400, 404], get: [400, 404] }, (which) =>
    which === 'post'
      ? fetch(`${o.httpUrl}/v1/media`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: pick(bodies)() })
      : which === 'complete'
        ? fetch(`${o.httpUrl}/v1/media/${ids()}/complete`, { method: 'POST', headers: auth })
        : fetch(`${o.httpUrl}/v1/media/${ids()}${rnd() < 0.5 ? '/thumbnail' : ''}`, { headers: auth, redirect: 'manual' }),
  );
}

/**
 * `requests` requests, each to an endpoint picked from `allowed`'s keys and sent by `send`; the
 * answers counted by status, and those whose status `allowed` does not list for the endpoint
 * (429, the edge's own limits, is always acceptable).
 */
async function fuzzHttp<K extends string>(requests: number, pick: <T>(xs: readonly T[]) => T, allowed: Record<K, number[]>, send: (which: K) => Promise<Response>): Promise<FuzzReport['media']> {
  const endpoints = Object.keys(allowed) as K[];
  const out: FuzzReport['media'] = { sent: 0, byStatus: {}, unexpected: {} };
  for (let i = 0; i < requests; i++) {
    const which = pick(endpoints);
    const res = await send(which);
    await res.arrayBuffer();
    out.sent++;
    out.byStatus[res.status] = (out.byStatus[res.status] ?? 0) + 1;
    if (!allowed[which].includes(res.status) && res.status !== 429) out.unexpected[`${which} → ${res.status}`] = (out.unexpected[`${which} → ${res.status}`] ?? 0) + 1;
  }
  return out;
}

/** Bad requests to a user's settings, blocks and presence: every one gets a status the protocol lists for it. */
async function fuzzUsers(o: FuzzOptions, rnd: () => number, requests: number): Promise<FuzzReport['users']> {
  const me = `${o.run}-users`;
  const t = await token(me, { deviceId: 'fz' });
  const int = (k: number) => Math.floor(rnd() * k);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bodies: Array<() => string> = [
    () => '{"lastSeen":',
    () => JSON.stringify(null),
    () => JSON.stringify({ lastSeen: 'friends' }),
    () => JSON.stringify({ lastSeen: ['nobody'] }),
    () => JSON.stringify({ lastSeen: 'nobody', admin: true }),
    () => JSON.stringify({}),
  ];
  // Ids the router or the contract refuse (400 or 404), and the caller's own (400 to block).
  const ids = () => pick(['..%2F..%2Fetc', 'a'.repeat(65), '%00', encodeURIComponent('"<script>'), 'a%20b', me]);
  const auth = { authorization: `Bearer ${t}` };
  return fuzzHttp(requests, pick, { patch: [400], put: [400, 404], delete: [400, 404, 204], presence: [400, 404] }, (which) =>
    which === 'patch'
      ? fetch(`${o.httpUrl}/v1/me/settings`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: pick(bodies)() })
      : which === 'presence'
        ? fetch(`${o.httpUrl}/v1/users/${ids()}/presence`, { headers: auth })
        : fetch(`${o.httpUrl}/v1/me/blocks/${ids()}`, { method: which.toUpperCase(), headers: auth }),
  );
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const log = o.log ?? (() => undefined);
  const rate = o.ratePerConnection ?? 40;
  const byKind: FuzzReport['byKind'] = Object.fromEntries(KINDS.map((k) => [k, { sent: 0, answers: {} }]));
  const unexpected: Record<string, number> = {};
  const count = (kind: Kind, answer: string) => {
    const k = byKind[kind]!;
    k.answers[answer] = (k.answers[answer] ?? 0) + 1;
    if (!EXPECTED[kind].includes(answer) && !ALWAYS_OK.includes(answer)) unexpected[`${kind} → ${answer}`] = (unexpected[`${kind} → ${answer}`] ?? 0) + 1;
  };
  let connectionsOpened = 0;
  /** Every close the fuzz connections saw, by code (also those after an answer, e.g. 1008 after the 21st bad frame). */
  const closes: Record<number, number> = {};

  // Well-behaved pairs, on the same edge.
  const pairs = await Promise.all(
    Array.from({ length: o.wellBehavedPairs ?? 3 }, async (_, i) => {
      const mk = async (user: string) => {
        const c = new ChatClient({ url: o.wsUrl, token: await token(user, { deviceId: 'wb' }), createSocket: (u) => new WebSocket(u) as never, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } });
        await c.connect();
        return c;
      };
      const sender = await mk(`${o.run}-wb-tx${i}`);
      const receiver = await mk(`${o.run}-wb-rx${i}`);
      const { conversationId } = await sender.createConversation({ kind: 'direct', members: [`${o.run}-wb-rx${i}`] });
      return { sender, receiver, conversationId };
    }),
  );
  const latencies: number[] = [];
  const wb = { sent: 0, delivered: 0, failed: 0 };
  let fuzzing = true;
  const chats = pairs.map(async ({ sender, receiver, conversationId }, i) => {
    const pending = new Map<string, number>();
    // A message may reach the receiver before `message.sent` is back at the sender.
    const arrived = new Map<string, number>();
    receiver.on('message', (m) => {
      const t0 = pending.get(m.messageId);
      if (t0 === undefined) return void arrived.set(m.messageId, performance.now());
      pending.delete(m.messageId);
      latencies.push(performance.now() - t0);
      wb.delivered++;
    });
    await sleep(i * 150);
    while (fuzzing) {
      const t0 = performance.now();
      try {
        wb.sent++;
        const sent = await sender.send({ conversationId, body: { text: `hello ${wb.sent}` } });
        const at = arrived.get(sent.messageId);
        if (at !== undefined) {
          arrived.delete(sent.messageId);
          latencies.push(at - t0);
          wb.delivered++;
        } else pending.set(sent.messageId, t0);
      } catch {
        wb.failed++;
      }
      await sleep(o.wellBehavedIntervalMs ?? 700);
    }
    await sleep(1000);
    wb.failed += pending.size;
  });

  // Readiness while fuzzing.
  const readyz = { checks: 0, failures: 0 };
  const probes = (async () => {
    while (fuzzing) {
      readyz.checks++;
      const ok = await fetch(`${o.httpUrl}/readyz`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status === 200, () => false);
      if (!ok) readyz.failures++;
      await sleep(1000);
    }
  })();

  await sleep(500);
  const rssBefore = rssKiB(o.edgePid);
  let rssPeak = rssBefore ?? 0;
  const rssSampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKiB(o.edgePid) ?? 0)), 250);

  const started = performance.now();
  let budget = o.frames;
  const kinds = KINDS.filter((k) => WEIGHTS[k] > 0);
  const total = kinds.reduce((s, k) => s + WEIGHTS[k], 0);
  let sentFrames = 0;
  let lastLog = 0;
  const slots = Array.from({ length: o.connections }, async (_, i) => {
    const rnd = prng((o.seed * 1_000_003 + i) >>> 0);
    const slot = new Slot(o, `${o.run}-fz${i}`, () => connectionsOpened++, (code) => (closes[code] = (closes[code] ?? 0) + 1));
    let n = 0;
    while (budget > 0) {
      let r = rnd() * total;
      let kind: Kind = kinds[0]!;
      for (const k of kinds) if ((r -= WEIGHTS[k]) < 0) { kind = k; break; }
      const t0 = performance.now();
      if (kind === 'flood') {
        const size = Math.min(budget, 120 + Math.floor(rnd() * 120));
        budget -= size;
        byKind.flood!.sent += size;
        for (const a of await slot.flood(size)) count('flood', a);
        sentFrames += size;
      } else {
        budget--;
        byKind[kind]!.sent++;
        count(kind, await slot.one(makeFrame(kind, rnd, n++)));
        sentFrames++;
      }
      if (i === 0 && performance.now() - lastLog > 5_000) {
        lastLog = performance.now();
        log(`fuzz: ${sentFrames}/${o.frames} frames, ${connectionsOpened} connections opened, edge RSS ${rssKiB(o.edgePid) ?? '?'} KiB`);
      }
      const wait = 1000 / rate - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    }
    slot.close();
  });
  const media = fuzzMedia(o, prng(o.seed ^ 0x5eed), Math.max(50, Math.round(o.frames / 20)));
  const users = fuzzUsers(o, prng(o.seed ^ 0xb10c), Math.max(50, Math.round(o.frames / 20)));
  await Promise.all(slots);
  const seconds = (performance.now() - started) / 1000;
  fuzzing = false;
  await Promise.all([...chats, probes]);
  clearInterval(rssSampler);
  for (const p of pairs) {
    p.sender.close();
    p.receiver.close();
  }
  await sleep(2000);
  const rssAfter = rssKiB(o.edgePid);

  const sum = (pred: (a: string) => boolean) => Object.values(byKind).reduce((s, k) => s + Object.entries(k.answers).reduce((t, [a, c]) => t + (pred(a) ? c : 0), 0), 0);
  latencies.sort((a, b) => a - b);
  const fix = (x: number | undefined) => (x === undefined ? -1 : +x.toFixed(1));
  return {
    seed: o.seed,
    frames: sentFrames,
    seconds: +seconds.toFixed(1),
    connectionsOpened,
    byKind,
    totals: {
      badRequest: sum((a) => a === 'error:bad_request'),
      payloadTooLarge: sum((a) => a === 'error:payload_too_large'),
      rateLimited: sum((a) => a === 'error:rate_limited'),
      timeouts: sum((a) => a === 'timeout'),
    },
    closes,
    unexpected,
    readyz,
    ...(rssBefore !== undefined && rssAfter !== undefined ? { edgeRssKiB: { before: rssBefore, peak: rssPeak, after: rssAfter, growth: rssAfter - rssBefore } } : {}),
    media: await media,
    users: await users,
    wellBehaved: {
      ...wb,
      p50Ms: latencies.length ? fix(percentile(latencies, 50)) : -1,
      p99Ms: latencies.length ? fix(percentile(latencies, 99)) : -1,
      maxMs: fix(latencies[latencies.length - 1]),
    },
  };
}
