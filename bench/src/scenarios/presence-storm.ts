/**
 * presence-storm: 5,000 connected clients (quick: 510) on one edge, each watching 50 others
 * (its group), then a fifth of them (1,000) moving at once: a flap (drop and reconnect inside
 * the grace), going away, and coming back (bench/src/generators/presence-storm.ts). Reports the
 * presence frames each phase cost, the p99 time to the first correct frame (a mover's snapshot
 * after the flap; the watchers' offline and online frames), and the CPU of the system's
 * processes over each phase. BENCH_PRESENCE_CLIENTS overrides the count.
 */
import { DEV_JWT_SECRET } from '@chat/contracts';
import type { BenchContext, Scenario } from '../context';
import { CpuSampler } from '../lib/cpu';

const GRACE_MS = 5_000;
const SYSTEM_ENV = { CHAT_PRESENCE_GRACE: `${GRACE_MS}ms`, CHAT_MAX_CONNECTIONS_PER_USER: '0' };

interface Phase {
  phase: [number, number];
  [k: string]: unknown;
}

export const scenario: Scenario = {
  name: 'presence-storm',
  async run(ctx: BenchContext) {
    const sys = await ctx.startSystem({ edges: 1, env: SYSTEM_ENV });
    const cpu = new CpuSampler({ apps: sys.pids, servers: { nats: sys.env['NATS_URL'], postgres: sys.env['DATABASE_URL'], redis: sys.env['REDIS_URL'] } }).start(250);
    try {
      const clients = Number(process.env['BENCH_PRESENCE_CLIENTS'] ?? (ctx.quick ? 510 : 5_000));
      ctx.progress(`presence-storm: ${clients} clients watching 50 each, a fifth of them moving at once`);
      const r = await ctx.runGenerator<Record<string, unknown> & { flap: Phase; away: Phase; back: Phase; error?: string }>('presence-storm', {
        wsUrl: sys.wsUrls[0],
        jwtSecret: sys.env['CHAT_JWT_SECRET'] ?? DEV_JWT_SECRET,
        clients,
        watch: 50,
        moverEvery: 5,
        graceMs: GRACE_MS,
      });
      cpu.stop();
      if (r.error) throw new Error(`presence-storm generator: ${r.error}`);
      // CPU % of one core per process over each phase, with the phase's length.
      const withCpu = (p: Phase) => {
        const [from, to] = p.phase;
        const c = cpu.between(from, to);
        return { ...p, seconds: Math.round((to - from) / 100) / 10, cpu: c };
      };
      return { ...r, flap: withCpu(r.flap), away: withCpu(r.away), back: withCpu(r.back), cpuProcesses: cpu.processes(), systemEnv: SYSTEM_ENV };
    } finally {
      cpu.stop();
      await sys.stop();
    }
  },
};
