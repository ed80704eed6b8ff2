/**
 * group-fanout: one 1,024-member group, every member online on one edge, messages from the
 * owner at 10/s for 20 s (quick: 5 s). Reports send → last member (allMembersMs) and
 * send → first member latency, and JetStream publishes to the delivery stream per message.
 * Target: allMembersMs.p99 < 100 ms.
 */
import { DEV_JWT_SECRET } from '@chat/contracts';
import type { BenchContext, Scenario } from '../context';

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
      const r = await ctx.runGenerator<Record<string, unknown> & { allMembersMs: { p99: number }; error?: string }>('group-fanout', {
        wsUrl: sys.wsUrls[0],
        jwtSecret: sys.env['CHAT_JWT_SECRET'] ?? DEV_JWT_SECRET,
        natsUrl: sys.env['NATS_URL'],
        ns: sys.env['CHAT_NS'] ?? '',
        members: 1024,
        rate: 10,
        durationSec,
      });
      if (r.error) throw new Error(`group-fanout generator: ${r.error}`);
      return { ...r, systemEnv: SYSTEM_ENV, targetP99Ms: TARGET_P99_MS, meetsTarget: r.allMembersMs.p99 < TARGET_P99_MS && r['incompleteMessages'] === 0 };
    } finally {
      await sys.stop();
    }
  },
};
