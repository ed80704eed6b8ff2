/**
 * e2e-1to1: 1,000 clients in 500 pairs, each pair a direct conversation, over the chat
 * protocol on one edge; offered rate stepped up open loop. Latency is send → the peer's
 * `message.new` (write path, projection, routing, delivery), on the generator's clock.
 */
import type { Scenario } from '../context';
import { e2ePlan, runE2eLoad } from '../lib/e2e';
import { BENCH_LIMITS } from '../system';

export const scenario: Scenario = {
  name: 'e2e-1to1',
  async run(ctx) {
    const plan = e2ePlan(ctx.quick);
    const sys = await ctx.startSystem({ edges: 1 });
    try {
      const result = await runE2eLoad(ctx, {
        transport: 'chat',
        url: sys.wsUrls[0]!,
        secret: sys.env['CHAT_JWT_SECRET']!,
        ...plan,
        pids: sys.pids,
        generators: Number(process.env['BENCH_GENERATORS'] ?? 1),
      });
      return { quick: ctx.quick, transport: 'chat', edges: 1, plan, systemEnv: BENCH_LIMITS, ...result };
    } finally {
      await sys.stop();
    }
  },
};
export default scenario;
