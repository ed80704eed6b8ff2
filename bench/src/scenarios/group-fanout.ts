/**
 * group-fanout: one 1,024-member group, every member online on one edge, messages from the
 * owner at 10/s for 20 s (quick: 5 s). Reports send → last member (allMembersMs) and
 * send → first member latency, and JetStream publishes to the delivery stream per message.
 * Target: allMembersMs.p99 < 100 ms.
 */
import { DEV_JWT_SECRET } from '@chat/contracts';
import type { BenchContext, Scenario } from '../context';
import { CpuSampler } from '../lib/cpu';

const TARGET_P99_MS = 100;

const SYSTEM_ENV = { CHAT_SEND_RATE: '0' };

export const scenario: Scenario = {
  name: 'group-fanout',
  async run(ctx: BenchContext) {
    // One sender at 10 msg/s is over the per-user send limit (100/min): the limit is off, this measures fan-out.
    const sys = await ctx.startSystem({ edges: 1, env: SYSTEM_ENV });
    try {
      const durationSec = ctx.quick ? 5 : 20;
      ctx.progress(`group-fanout: 1,024 members, 10 msg/s for ${durationSec} s`);
      // CPU of the system's processes (by PID) while the messages fan out: ms per group message.
      const cpu = new CpuSampler({ apps: sys.pids, servers: { nats: sys.env['NATS_URL'], postgres: sys.env['DATABASE_URL'], redis: sys.env['REDIS_URL'] } }).start();
      type Result = Record<string, unknown> & { allMembersMs: { p99: number }; messages: number; windowEpochMs: { from: number; to: number }; error?: string };
      const args = {
        wsUrl: sys.wsUrls[0],
        jwtSecret: sys.env['CHAT_JWT_SECRET'] ?? DEV_JWT_SECRET,
        natsUrl: sys.env['NATS_URL'],
        ns: sys.env['CHAT_NS'] ?? '',
        members: 1024,
        rate: 10,
        durationSec,
      };
      const r = await ctx
        .runGenerator<Result>('group-fanout', args, { onSpawn: (pid) => cpu.track({ name: 'generator', pid, role: 'generator' }) })
        .finally(() => cpu.stop());
      if (r.error) throw new Error(`group-fanout generator: ${r.error}`);
      return { ...r, cpu: fanoutCpu(cpu, r.windowEpochMs, r.messages), systemEnv: SYSTEM_ENV, targetP99Ms: TARGET_P99_MS, meetsTarget: r.allMembersMs.p99 < TARGET_P99_MS && r['incompleteMessages'] === 0 };
    } finally {
      await sys.stop();
    }
  },
};

/** % of one core per process over the fan-out window, and each process's ms of CPU per group message (1,023 deliveries). */
function fanoutCpu(cpu: CpuSampler, w: { from: number; to: number }, messages: number): { perProcessPct: Record<string, number>; msPerMessage: Record<string, number>; machineBusyPct: number | null } | null {
  const c = cpu.between(w.from, w.to);
  if (!c || messages === 0) return null;
  const seconds = (w.to - w.from) / 1000;
  const msPerMessage = Object.fromEntries(Object.entries(c.perProcessPct).map(([name, pct]) => [name, Math.round(((pct / 100) * seconds * 1000 * 100) / messages) / 100]));
  return { ...c, msPerMessage };
}
