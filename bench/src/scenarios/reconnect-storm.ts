/**
 * reconnect-storm: 10,000 clients (quick: 500) on one edge, 100 to a group. All drop; each
 * group's sender sends 20 messages (so every client has 20 waiting); then every client
 * reconnects at once and syncs from its stored cursor. Reports how long until every client
 * has every acknowledged message (allCaughtUpSeconds, from the reconnect; also from the drop),
 * how long the reconnects took, `lost` (must be 0) and how long setup took.
 * Target: all caught up within 10 s, nothing lost.
 *
 * The edge and the generator hold one socket per client (plus one per group sender): the
 * client count is capped to what both processes' open-files limits allow, and the cap is
 * reported (`clientsCappedFrom`, `fileLimits`). BENCH_STORM_CLIENTS overrides the count.
 */
import { DEV_JWT_SECRET } from '@chat/contracts';
import type { BenchContext, Scenario } from '../context';
import { loopbackAddresses } from '../generators/lib/common';
import { clientsFitting, fdCount, openFilesLimit, socketsLeft } from '../lib/fds';

const TARGET_SECONDS = 10;
const GROUP_SIZE = 100;
const MESSAGES_PER_CLIENT = 20;
/** Ephemeral ports to one destination from one source address, with room to spare (Linux default range 32768–60999). */
const EPHEMERAL_PORTS_ONE_ADDRESS = 25_000;

const SYSTEM_ENV = { CHAT_SEND_RATE: '0' };

export const scenario: Scenario = {
  name: 'reconnect-storm',
  async run(ctx: BenchContext) {
    // Each sender sends 21 messages at once (over the per-user burst of 20): the limit is off, this measures catch-up.
    const sys = await ctx.startSystem({ edges: 1, env: SYSTEM_ENV });
    try {
      const wanted = Number(process.env['BENCH_STORM_CLIENTS'] ?? (ctx.quick ? 500 : 10_000));
      const edgePid = sys.pids['edge-0']!;
      const edge = openFilesLimit(edgePid);
      // The generator is a node process started from this one: Node raises its soft limit to the hard limit.
      const self = openFilesLimit('self');
      const edgeLeft = socketsLeft(edge.soft, fdCount(edgePid));
      const genLeft = socketsLeft(self.hard, 100);
      const clients = Math.min(wanted, clientsFitting(edgeLeft, GROUP_SIZE), clientsFitting(genLeft, GROUP_SIZE));
      if (clients < wanted)
        ctx.progress(`reconnect-storm: open-files limits (edge ${edge.soft}, generator ${self.hard}) allow ${clients} clients, not ${wanted}; raise \`ulimit -n\` (hard) to run the full size`);
      ctx.progress(`reconnect-storm: ${clients} clients, ${MESSAGES_PER_CLIENT} messages each while offline`);
      const r = await ctx.runGenerator<Record<string, unknown> & { lost: number; allCaughtUpSeconds: number | null; error?: string }>('reconnect-storm', {
        wsUrl: sys.wsUrls[0],
        httpUrl: sys.httpUrl,
        jwtSecret: sys.env['CHAT_JWT_SECRET'] ?? DEV_JWT_SECRET,
        natsUrl: sys.env['NATS_URL'],
        ns: sys.env['CHAT_NS'] ?? '',
        clients,
        groupSize: GROUP_SIZE,
        messagesPerClient: MESSAGES_PER_CLIENT,
        // Binding a source address makes the kernel search the port range for a free port on
        // every connect, in O(ports in use, TIME_WAIT included): after the connections scenario
        // (20,000 sockets in TIME_WAIT) the generator spent 8 s of CPU in bind() before its
        // clients reached the edge. Plain connects need no search; one source address suffices
        // while the setup's and the storm's sockets fit its ephemeral port range.
        localAddresses: 2 * (clients + Math.ceil(clients / GROUP_SIZE)) > EPHEMERAL_PORTS_ONE_ADDRESS ? loopbackAddresses(4) : undefined,
      });
      if (r.error) throw new Error(`reconnect-storm generator: ${r.error}`);
      return {
        ...r,
        ...(clients < wanted ? { clientsCappedFrom: wanted } : {}),
        fileLimits: { edgeSoft: edge.soft, edgeHard: edge.hard, generator: self.hard },
        systemEnv: SYSTEM_ENV,
        targetSeconds: TARGET_SECONDS,
        meetsTarget: r.lost === 0 && r.allCaughtUpSeconds !== null && r.allCaughtUpSeconds <= TARGET_SECONDS,
      };
    } finally {
      await sys.stop();
    }
  },
};
