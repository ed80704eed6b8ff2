/**
 * reconnect-storm: 5,000 clients (quick: 500) on one edge, 100 to a group. All drop; each
 * group's sender sends 20 messages (so every client has 20 waiting); then every client
 * reconnects at once and syncs from its stored cursor. Reports how long until every client
 * has every acknowledged message (allCaughtUpSeconds, from the reconnect; also from the drop),
 * how long the reconnects took, `lost` (must be 0) and how long setup took.
 * Target: all caught up within 10 s, nothing lost.
 */
import { DEV_JWT_SECRET } from '@chat/contracts';
import type { BenchContext, Scenario } from '../context';
import { loopbackAddresses } from '../generators/lib/common';

const TARGET_SECONDS = 10;

const SYSTEM_ENV = { CHAT_SEND_RATE: '0' };

export const scenario: Scenario = {
  name: 'reconnect-storm',
  async run(ctx: BenchContext) {
    // Each sender sends 21 messages at once (over the per-user burst of 20): the limit is off, this measures catch-up.
    const sys = await ctx.startSystem({ edges: 1, env: SYSTEM_ENV });
    try {
      const clients = ctx.quick ? 500 : 5000;
      ctx.progress(`reconnect-storm: ${clients} clients, 20 messages each while offline`);
      const r = await ctx.runGenerator<Record<string, unknown> & { lost: number; allCaughtUpSeconds: number | null; error?: string }>('reconnect-storm', {
        wsUrl: sys.wsUrls[0],
        httpUrl: sys.httpUrl,
        jwtSecret: sys.env['CHAT_JWT_SECRET'] ?? DEV_JWT_SECRET,
        natsUrl: sys.env['NATS_URL'],
        ns: sys.env['CHAT_NS'] ?? '',
        clients,
        groupSize: 100,
        messagesPerClient: 20,
        localAddresses: loopbackAddresses(4),
      });
      if (r.error) throw new Error(`reconnect-storm generator: ${r.error}`);
      return {
        ...r,
        systemEnv: SYSTEM_ENV,
        targetSeconds: TARGET_SECONDS,
        meetsTarget: r.lost === 0 && r.allCaughtUpSeconds !== null && r.allCaughtUpSeconds <= TARGET_SECONDS,
      };
    } finally {
      await sys.stop();
    }
  },
};
