/**
 * Runs the 1:1 load generator (bench/src/generators/e2e-1to1.ts) against a transport, samples
 * CPU meanwhile (by PID: the system's apps and servers, the generators), merges several
 * generator processes and summarizes per step. `runE2eScenario` is the whole of every chat
 * e2e scenario (e2e-1to1, e2e-1to1-sendonly, e2e-1to1-syncalways): start a system, run the
 * load with or without receipts, stop it. peer-socketio runs the same load via runE2eLoad.
 */
import { cpus } from 'node:os';
import type { BenchContext } from '../context';
import type { E2eArgs, E2eRaw, StepRaw } from '../generators/e2e-1to1';
import { runGenerator } from '../harness';
import { BENCH_LIMITS, topologyFromEnv } from '../system';
import { CpuSampler, type StepCpu } from './cpu';
import { LoopSampler, type StepLoop } from './loop';
import { Histogram, round } from './histogram';

export interface E2eStep {
  offeredPerSec: number;
  sentPerSec: number;
  deliveredPerSec: number;
  /** Share of the offered messages delivered by the end of the step's drain. */
  deliveredRatio: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
  sentAckMs: { p50: number | null; p99: number | null };
  /** Sends the server refused or that timed out. */
  errors: number;
  /** Sends the generator skipped: rate × 10 s already in flight (the system is far behind). */
  notSent: number;
  errorSamples?: string[];
  /** p99 of how late the generator sent against the schedule: high means the generator itself is saturated. */
  generatorSendLagP99Ms: number | null;
  generatorCpuPct: number;
  /** With receipts: frames the receivers sent, receipt frames back at the senders, and the share of acknowledged messages a delivered receipt came back for. */
  receipts?: { deliveredSent: number; readSent: number; deliveredReceived: number; readReceived: number; coveredRatio: number; unsolicitedErrors: number };
  /** With receipts: scheduled send → the delivered receipt covering the message back at the sender. */
  receiptLatencyMs?: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
  /** With typing: typing starts sent and received in the step, and sent → received at the peer. */
  typing?: { sent: number; received: number; latencyMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null } };
  /** CPU % per process (100 = one core), µs of CPU per delivered message per process and all-in (the system: apps and servers), machine busy % (100 = every core). */
  cpu?: StepCpu | null;
  /** Per Node.js app of the system: its worst event-loop delay and GC time in the step (lib/loop.ts). */
  loop?: Record<string, StepLoop>;
  /** delivered ≥ 99 % of offered and p99 < 100 ms */
  sustained: boolean;
  seconds: number;
}

export interface E2eResult {
  pairs: number;
  connections: number;
  connectSeconds: number;
  generators: number;
  receipts: boolean;
  readShare: number | null;
  steps: E2eStep[];
  maxSustainedPerSec: number | null;
  stoppedEarly: boolean;
  /** What the CPU figures cover: name → pid and role (app, server, generator). */
  processes: Record<string, { pid: number; role: string; withChildren?: boolean }>;
  /** Servers of the system not found by their port (their CPU is missing from the all-in figure). */
  serversNotFound?: Array<{ name: string; url: string; note?: string }>;
}

export const SUSTAINED = { deliveredRatio: 0.99, p99Ms: 100 };

function mergeSteps(parts: StepRaw[]): StepRaw {
  const first = parts[0]!;
  const h = (k: 'latency' | 'sentAck' | 'sendLag' | 'receiptLatency' | 'typingLatency') => parts.reduce((acc, p) => (p[k] ? acc.merge(p[k]) : acc), new Histogram()).toJSON();
  const sum = (k: 'offered' | 'acked' | 'ackedInWindow' | 'delivered' | 'deliveredInWindow' | 'errors' | 'dropped' | 'offeredPerSec' | 'receiptCovered' | 'unsolicitedErrors' | 'typingSent' | 'typingReceived') => parts.reduce((a, p) => a + (p[k] ?? 0), 0);
  const pair = (k: 'receiptsSent' | 'receiptsReceived') => ({ delivered: parts.reduce((a, p) => a + (p[k]?.delivered ?? 0), 0), read: parts.reduce((a, p) => a + (p[k]?.read ?? 0), 0) });
  return {
    offeredPerSec: sum('offeredPerSec'),
    startedAt: Math.min(...parts.map((p) => p.startedAt)),
    endedAt: Math.max(...parts.map((p) => p.endedAt)),
    seconds: first.seconds,
    offered: sum('offered'),
    acked: sum('acked'),
    ackedInWindow: sum('ackedInWindow'),
    delivered: sum('delivered'),
    deliveredInWindow: sum('deliveredInWindow'),
    errors: sum('errors'),
    dropped: sum('dropped'),
    errorSamples: parts.flatMap((p) => p.errorSamples).slice(0, 5),
    latency: h('latency'),
    sentAck: h('sentAck'),
    sendLag: h('sendLag'),
    generatorCpuPct: round(parts.reduce((a, p) => a + p.generatorCpuPct, 0), 1),
    receiptsSent: pair('receiptsSent'),
    receiptsReceived: pair('receiptsReceived'),
    receiptCovered: sum('receiptCovered'),
    receiptLatency: h('receiptLatency'),
    unsolicitedErrors: sum('unsolicitedErrors'),
    typingSent: sum('typingSent'),
    typingReceived: sum('typingReceived'),
    typingLatency: h('typingLatency'),
  };
}

export function summarizeE2e(raws: E2eRaw[], opts: { cpu?: CpuSampler; loop?: LoopSampler; receipts?: boolean; readShare?: number } = {}): E2eResult {
  const { cpu, loop, receipts = false } = opts;
  const n = Math.min(...raws.map((r) => r.steps.length));
  const steps: E2eStep[] = [];
  for (let k = 0; k < n; k++) {
    const s = mergeSteps(raws.map((r) => r.steps[k]!));
    const lat = Histogram.from(s.latency).summary();
    const ack = Histogram.from(s.sentAck).summary();
    const deliveredRatio = s.offered ? round(s.delivered / s.offered, 4) : 0;
    const deliveredPerSec = round(s.deliveredInWindow / s.seconds, 1);
    const rl = Histogram.from(s.receiptLatency).summary();
    const tl = Histogram.from(s.typingLatency).summary();
    steps.push({
      offeredPerSec: s.offeredPerSec,
      sentPerSec: round(s.ackedInWindow / s.seconds, 1),
      deliveredPerSec,
      deliveredRatio,
      latencyMs: { p50: lat.p50, p95: lat.p95, p99: lat.p99, max: lat.max },
      sentAckMs: { p50: ack.p50, p99: ack.p99 },
      errors: s.errors,
      notSent: s.dropped,
      ...(s.errorSamples.length ? { errorSamples: s.errorSamples } : {}),
      generatorSendLagP99Ms: Histogram.from(s.sendLag).percentile(99),
      generatorCpuPct: s.generatorCpuPct,
      ...(receipts
        ? {
            receipts: {
              deliveredSent: s.receiptsSent.delivered,
              readSent: s.receiptsSent.read,
              deliveredReceived: s.receiptsReceived.delivered,
              readReceived: s.receiptsReceived.read,
              coveredRatio: s.acked ? round(s.receiptCovered / s.acked, 4) : 0,
              unsolicitedErrors: s.unsolicitedErrors,
            },
            receiptLatencyMs: { p50: rl.p50, p95: rl.p95, p99: rl.p99, max: rl.max },
          }
        : {}),
      ...(s.typingSent > 0 ? { typing: { sent: s.typingSent, received: s.typingReceived, latencyMs: { p50: tl.p50, p95: tl.p95, p99: tl.p99, max: tl.max } } } : {}),
      cpu: cpu?.step(s.startedAt, s.endedAt, deliveredPerSec, cpus().length) ?? null,
      ...(loop ? { loop: loop.step(s.startedAt, s.endedAt) } : {}),
      sustained: deliveredRatio >= SUSTAINED.deliveredRatio && lat.p99 !== null && lat.p99 < SUSTAINED.p99Ms,
      seconds: s.seconds,
    });
  }
  const ok = steps.filter((s) => s.sustained).map((s) => s.offeredPerSec);
  return {
    pairs: raws.reduce((a, r) => a + r.pairs, 0),
    connections: raws.reduce((a, r) => a + r.connections, 0),
    connectSeconds: Math.max(...raws.map((r) => r.connectSeconds)),
    generators: raws.length,
    receipts,
    readShare: receipts ? (opts.readShare ?? 0.5) : null,
    steps,
    maxSustainedPerSec: ok.length ? Math.max(...ok) : null,
    stoppedEarly: raws.some((r) => r.stoppedEarly) || n < Math.max(...raws.map((r) => r.steps.length)),
    processes: cpu?.processes() ?? {},
    ...(cpu && cpu.servers.some((x) => x.pid === null) ? { serversNotFound: cpu.servers.filter((x) => x.pid === null).map(({ name, url, note }) => ({ name, url, ...(note ? { note } : {}) })) } : {}),
  };
}

export type LoadOptions = E2eArgs & {
  /** The system's app processes to sample CPU of (name → pid). */
  pids?: Record<string, number>;
  /** The servers the system uses: their processes are found by port and sampled too. */
  servers?: { nats?: string; postgres?: string; redis?: string };
  /** The system's apps' ops ports (name → URL): their event loops and GC are sampled. */
  ops?: Record<string, string>;
  /** Generator processes (default 1): pairs and rates are split between them. */
  generators?: number;
};

export async function runE2eLoad(ctx: BenchContext, o: LoadOptions): Promise<E2eResult> {
  const { pids, servers, ops, generators: g = 1, ...rest } = o;
  const args = rest as E2eArgs;
  const cpu = new CpuSampler({ apps: pids ?? {}, ...(servers ? { servers } : {}) });
  for (const s of cpu.servers) ctx.progress(s.pid === null ? `CPU: ${s.name} (${s.url}) not found: ${s.note ?? ''}` : `CPU: ${s.name} ${s.url} is pid ${s.pid}${s.withChildren ? ' (with its children)' : ''}`);
  cpu.start();
  const loop = ops ? new LoopSampler(ops).start() : undefined;
  try {
    const prefix = `b${Date.now().toString(36)}`;
    // Several processes start their first step together, once all have connected (a generous estimate).
    const startAt = g > 1 ? Date.now() + 10_000 + args.pairs * 30 : undefined;
    const raws = await Promise.all(
      Array.from({ length: g }, (_, i) => {
        const part: E2eArgs = {
          ...args,
          pairs: Math.floor(args.pairs / g) + (i < args.pairs % g ? 1 : 0),
          steps: args.steps.map((r) => r / g),
          userPrefix: `${prefix}g${i}`,
          ...(startAt ? { startAt } : {}),
        };
        return runGenerator<E2eRaw>('e2e-1to1', part, (l) => ctx.progress(g > 1 ? `gen${i}: ${l}` : l), {
          onSpawn: (pid) => cpu.track({ name: g > 1 ? `generator-${i}` : 'generator', pid, role: 'generator' }),
        });
      }),
    );
    cpu.stop();
    await loop?.stop();
    return summarizeE2e(raws, { cpu, ...(loop ? { loop } : {}), receipts: args.receipts === true, ...(args.readShare !== undefined ? { readShare: args.readShare } : {}) });
  } finally {
    cpu.stop();
    await loop?.stop();
  }
}

export interface E2ePlan {
  pairs: number;
  steps: number[];
  stepSeconds: number;
  drainSeconds: number;
  stopOnFailure?: boolean;
}

/** The step plan of the 1:1 scenarios (BENCH_PAIRS, BENCH_STEPS, BENCH_STEP_SECONDS override it). */
export function e2ePlan(quick: boolean): E2ePlan {
  const env = process.env;
  const num = (k: string) => (env[k] ? Number(env[k]) : undefined);
  const list = (k: string) => (env[k] ? env[k]!.split(',').map(Number) : undefined);
  if (quick) return { pairs: num('BENCH_PAIRS') ?? 100, steps: list('BENCH_STEPS') ?? [500, 1000], stepSeconds: num('BENCH_STEP_SECONDS') ?? 3, drainSeconds: 2, stopOnFailure: false };
  return {
    pairs: num('BENCH_PAIRS') ?? 500,
    steps: list('BENCH_STEPS') ?? [250, 500, 1000, 2000, 3000, 5000, 7000],
    stepSeconds: num('BENCH_STEP_SECONDS') ?? 15,
    drainSeconds: 5,
  };
}

/**
 * Receipt and typing settings of the realistic load: BENCH_READ_SHARE (default 0.5); a sender
 * signals typing before a message at most every BENCH_TYPING_EVERY_MS (default 4000, as the
 * SDK advises: the server forwards one per 3 s; 0 = no typing).
 */
export function receiptPlan(receipts: boolean): { receipts: boolean; readShare?: number; receiptWindowMs?: number; typingEveryMs?: number } {
  if (!receipts) return { receipts: false };
  const share = process.env['BENCH_READ_SHARE'] ? Number(process.env['BENCH_READ_SHARE']) : 0.5;
  if (!(share >= 0 && share <= 1)) throw new Error(`BENCH_READ_SHARE must be 0..1, got ${process.env['BENCH_READ_SHARE']}`);
  const typingEveryMs = process.env['BENCH_TYPING_EVERY_MS'] ? Number(process.env['BENCH_TYPING_EVERY_MS']) : 4000;
  if (!(typingEveryMs >= 0)) throw new Error(`BENCH_TYPING_EVERY_MS must be ≥ 0, got ${process.env['BENCH_TYPING_EVERY_MS']}`);
  return { receipts: true, readShare: share, receiptWindowMs: 100, typingEveryMs };
}

/**
 * One chat e2e scenario: a system (BENCH_EDGES edges, BENCH_COMMANDS command processes; on
 * `natsUrl` when given), the 1:1 load with or without receipts, the system stopped.
 */
export async function runE2eScenario(ctx: BenchContext, o: { receipts: boolean; natsUrl?: string }): Promise<Record<string, unknown>> {
  const plan = e2ePlan(ctx.quick);
  const receipts = receiptPlan(o.receipts);
  const { edges, commands } = topologyFromEnv();
  const sys = await ctx.startSystem({ edges, commands, ...(o.natsUrl ? { natsUrl: o.natsUrl } : {}) });
  try {
    const result = await runE2eLoad(ctx, {
      transport: 'chat',
      url: sys.wsUrls[0]!,
      urls: sys.wsUrls,
      secret: sys.env['CHAT_JWT_SECRET']!,
      ...plan,
      ...receipts,
      pids: sys.pids,
      ops: sys.ops,
      servers: { nats: sys.env['NATS_URL'], postgres: sys.env['DATABASE_URL'], redis: sys.env['REDIS_URL'] },
      generators: Number(process.env['BENCH_GENERATORS'] ?? 1),
    });
    return { quick: ctx.quick, transport: 'chat', edges, commands, plan, systemEnv: BENCH_LIMITS, ...result };
  } finally {
    await sys.stop();
  }
}
