/**
 * Runs the 1:1 load generator (bench/src/generators/e2e-1to1.ts) against a transport, samples
 * CPU meanwhile, merges several generator processes and summarizes per step. Shared by
 * e2e-1to1, e2e-1to1-syncalways and peer-socketio.
 */
import type { BenchContext } from '../context';
import type { E2eArgs, E2eRaw, StepRaw } from '../generators/e2e-1to1';
import { runGenerator } from '../harness';
import { CpuSampler } from './cpu';
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
  /** CPU % per process (100 = one core) and machine busy % (100 = every core) over the step. */
  cpu?: { perProcessPct: Record<string, number>; machineBusyPct: number | null } | null;
  /** delivered ≥ 99 % of offered and p99 < 100 ms */
  sustained: boolean;
  seconds: number;
}

export interface E2eResult {
  pairs: number;
  connections: number;
  connectSeconds: number;
  generators: number;
  steps: E2eStep[];
  maxSustainedPerSec: number | null;
  stoppedEarly: boolean;
}

export const SUSTAINED = { deliveredRatio: 0.99, p99Ms: 100 };

function mergeSteps(parts: StepRaw[]): StepRaw {
  const first = parts[0]!;
  const h = (k: 'latency' | 'sentAck' | 'sendLag') => parts.reduce((acc, p) => acc.merge(p[k]), new Histogram()).toJSON();
  const sum = (k: 'offered' | 'acked' | 'ackedInWindow' | 'delivered' | 'deliveredInWindow' | 'errors' | 'dropped' | 'offeredPerSec') => parts.reduce((a, p) => a + p[k], 0);
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
  };
}

export function summarizeE2e(raws: E2eRaw[], cpu?: CpuSampler): E2eResult {
  const n = Math.min(...raws.map((r) => r.steps.length));
  const steps: E2eStep[] = [];
  for (let k = 0; k < n; k++) {
    const s = mergeSteps(raws.map((r) => r.steps[k]!));
    const lat = Histogram.from(s.latency).summary();
    const ack = Histogram.from(s.sentAck).summary();
    const deliveredRatio = s.offered ? round(s.delivered / s.offered, 4) : 0;
    steps.push({
      offeredPerSec: s.offeredPerSec,
      sentPerSec: round(s.ackedInWindow / s.seconds, 1),
      deliveredPerSec: round(s.deliveredInWindow / s.seconds, 1),
      deliveredRatio,
      latencyMs: { p50: lat.p50, p95: lat.p95, p99: lat.p99, max: lat.max },
      sentAckMs: { p50: ack.p50, p99: ack.p99 },
      errors: s.errors,
      notSent: s.dropped,
      ...(s.errorSamples.length ? { errorSamples: s.errorSamples } : {}),
      generatorSendLagP99Ms: Histogram.from(s.sendLag).percentile(99),
      generatorCpuPct: s.generatorCpuPct,
      cpu: cpu?.between(s.startedAt, s.endedAt) ?? null,
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
    steps,
    maxSustainedPerSec: ok.length ? Math.max(...ok) : null,
    stoppedEarly: raws.some((r) => r.stoppedEarly) || n < Math.max(...raws.map((r) => r.steps.length)),
  };
}

export type LoadOptions = E2eArgs & {
  /** Processes to sample CPU of (the system's pids). */
  pids?: Record<string, number>;
  /** Generator processes (default 1): pairs and rates are split between them. */
  generators?: number;
};

export async function runE2eLoad(ctx: BenchContext, o: LoadOptions): Promise<E2eResult> {
  const { pids, generators: g = 1, ...rest } = o;
  const args = rest as E2eArgs;
  const cpu = new CpuSampler(pids ?? {}).start();
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
          onSpawn: (pid) => (cpu.pids[g > 1 ? `generator-${i}` : 'generator'] = pid),
        });
      }),
    );
    cpu.stop();
    return summarizeE2e(raws, cpu);
  } finally {
    cpu.stop();
  }
}

/** The step plan of the 1:1 scenarios. */
export function e2ePlan(quick: boolean): { pairs: number; steps: number[]; stepSeconds: number; drainSeconds: number; stopOnFailure?: boolean } {
  const env = process.env;
  const num = (k: string) => (env[k] ? Number(env[k]) : undefined);
  const list = (k: string) => (env[k] ? env[k]!.split(',').map(Number) : undefined);
  if (quick) return { pairs: num('BENCH_PAIRS') ?? 100, steps: list('BENCH_STEPS') ?? [200, 500], stepSeconds: num('BENCH_STEP_SECONDS') ?? 3, drainSeconds: 2, stopOnFailure: false };
  return {
    pairs: num('BENCH_PAIRS') ?? 500,
    steps: list('BENCH_STEPS') ?? [500, 1000, 2000, 4000, 8000],
    stepSeconds: num('BENCH_STEP_SECONDS') ?? 15,
    drainSeconds: 5,
  };
}
