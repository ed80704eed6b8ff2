/**
 * reconnect-storm: 10,000 clients (quick: 500) on one edge, 100 to a group. All drop; each
 * group's sender sends 20 messages (so every client has 20 waiting); then every client
 * reconnects at once and syncs from its stored cursor. Reports how long until every client
 * has every acknowledged message (allCaughtUpSeconds, from the reconnect; also from the drop),
 * how long the reconnects took, `lost` (must be 0) and how long setup took.
 * Target: all caught up within 10 s, nothing lost.
 *
 * One generator process sets up (connects everyone, creates the groups, sends while they are
 * away) and writes the plan; the storm itself comes from several generator processes (4; quick:
 * 2), each reconnecting a share of the clients when a file barrier releases them all at once,
 * so that the edge, not one client-side event loop holding 10,000 sockets, decides how fast
 * they are served. Times are from the release and merged exactly.
 *
 * The edge and the setup process hold one socket per client (plus one per group sender): the
 * client count is capped to what both processes' open-files limits allow, and the cap is
 * reported (`clientsCappedFrom`, `fileLimits`). BENCH_STORM_CLIENTS overrides the count.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_JWT_SECRET } from '@chat/contracts';
import type { BenchContext, Scenario } from '../context';
import { barrier, loopbackAddresses, round, sleep, summary } from '../generators/lib/common';
import type { StormShardResult } from '../generators/reconnect-storm';
import { clientsFitting, fdCount, openFilesLimit, socketsLeft } from '../lib/fds';
import { readTcpCounters, somaxconn, tcpDelta } from '../lib/tcp';
import { CpuSampler } from '../lib/cpu';

const TARGET_SECONDS = 10;
/** Generator processes the storm's clients are spread over. */
const STORM_PROCESSES = 4;
const GROUP_SIZE = 100;
const MESSAGES_PER_CLIENT = 20;
/** Ephemeral ports to one destination from one source address, with room to spare (Linux default range 32768–60999). */
const EPHEMERAL_PORTS_ONE_ADDRESS = 25_000;

const SYSTEM_ENV = { CHAT_SEND_RATE: '0' };

/**
 * The storm processes' `nice` (BENCH_STORM_NICE; 0: the system's priority). Ten thousand
 * reconnecting clients cost their generators about as much CPU as they cost the edge, on the
 * same two cores; in production they are phones. A lower priority lets the system under test
 * have the CPU first; the clocks run from the release, so it cannot shorten a result.
 */
const STORM_NICE = Number(process.env['BENCH_STORM_NICE'] ?? 10);

export const scenario: Scenario = {
  name: 'reconnect-storm',
  async run(ctx: BenchContext) {
    // Each sender sends 21 messages at once (over the per-user burst of 20): the limit is off, this measures catch-up.
    const sys = await ctx.startSystem({ edges: 1, env: SYSTEM_ENV });
    const dir = mkdtempSync(join(tmpdir(), 'bench-storm-'));
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
      // Binding a source address makes the kernel search the port range for a free port on
      // every connect, in O(ports in use, TIME_WAIT included): after the connections scenario
      // (20,000 sockets in TIME_WAIT) the generator spent 8 s of CPU in bind() before its
      // clients reached the edge. Plain connects need no search; one source address suffices
      // while the setup's and the storm's sockets fit its ephemeral port range.
      const localAddresses = 2 * (clients + Math.ceil(clients / GROUP_SIZE)) > EPHEMERAL_PORTS_ONE_ADDRESS ? loopbackAddresses(4) : undefined;
      const jwtSecret = sys.env['CHAT_JWT_SECRET'] ?? DEV_JWT_SECRET;
      const planFile = join(dir, 'plan.json');
      const setup = await ctx.runGenerator<Record<string, unknown> & { tDrop: number; error?: string }>('reconnect-storm', {
        role: 'setup',
        wsUrl: sys.wsUrls[0],
        opsUrl: sys.opsUrl,
        jwtSecret,
        natsUrl: sys.env['NATS_URL'],
        ns: sys.env['CHAT_NS'] ?? '',
        planFile,
        clients,
        groupSize: GROUP_SIZE,
        messagesPerClient: MESSAGES_PER_CLIENT,
        localAddresses,
      });
      if (setup.error) throw new Error(`reconnect-storm setup: ${setup.error}`);

      const shards = ctx.quick ? 2 : STORM_PROCESSES;
      const startDir = join(dir, 'start');
      const endDir = join(dir, 'end');
      mkdirSync(startDir);
      mkdirSync(endDir);
      let failed: unknown;
      const generatorPids: number[] = [];
      const running = Array.from({ length: shards }, (_, shard) =>
        ctx
          .runGenerator<StormShardResult & { error?: string }>(
            'reconnect-storm',
            { role: 'storm', wsUrl: sys.wsUrls[0], jwtSecret, planFile, shard, shards, startDir, endDir, localAddresses },
            { nice: STORM_NICE, onSpawn: (pid) => generatorPids.push(pid) },
          )
          .then((r) => {
            if (r.error) throw new Error(r.error);
            return r;
          })
          .catch((e: unknown) => {
            failed ??= e;
            barrier.release(startDir);
            barrier.release(endDir);
            throw e;
          }),
      );
      const readyBy = Date.now() + 120_000;
      while (barrier.arrivedCount(startDir) < shards && !failed && Date.now() < readyBy) await sleep(20);
      if (failed) throw failed as Error;
      await sleep(500); // let every shard settle into its wait
      const loadAtStorm = loadavg()[0]!;
      const tcpBefore = readTcpCounters();
      // CPU of the system's own processes (by PID) over the storm: what bounds it.
      const cpu = new CpuSampler({ apps: sys.pids, servers: { nats: sys.env['NATS_URL'], postgres: sys.env['DATABASE_URL'], redis: sys.env['REDIS_URL'] } });
      generatorPids.forEach((pid, i) => cpu.track({ name: `generator-${i}`, pid, role: 'generator' }));
      cpu.sample();
      const tRelease = Date.now();
      barrier.release(startDir);
      ctx.progress(`reconnect-storm: released ${clients} clients over ${shards} processes`);
      const doneBy = Date.now() + 300_000;
      while (barrier.arrivedCount(endDir) < shards && !failed && Date.now() < doneBy) await sleep(100);
      const tcpAfter = readTcpCounters();
      const tDone = Date.now();
      cpu.sample();
      barrier.release(endDir);
      const parts = await Promise.all(running);
      const hellos = parts.flatMap((p) => p.helloMs);
      const caught = parts.flatMap((p) => p.caughtUpMs);
      const sum = (k: 'lost' | 'clientsShort' | 'clientsFailed' | 'connectRetries' | 'syncErrors' | 'duplicatesDropped') => parts.reduce((n, p) => n + p[k], 0);
      const done = (xs: Array<number | null>) => xs.filter((t): t is number => t !== null);
      const caughtUp = done(caught).length;
      const lost = sum('lost');
      const allCaughtUpSeconds = caughtUp === clients ? round(Math.max(...done(caught)) / 1000, 2) : null;
      const { tDrop, ...setupResult } = setup;
      return {
        ...setupResult,
        lost,
        clientsShort: sum('clientsShort'),
        clientsFailed: sum('clientsFailed'),
        caughtUp,
        allCaughtUpSeconds,
        allCaughtUpFromDropSeconds: allCaughtUpSeconds === null ? null : round((Number(readFileSync(join(startDir, 'release'), 'utf8')) - tDrop) / 1000 + allCaughtUpSeconds, 2),
        reconnectSeconds: done(hellos).length === clients ? round(Math.max(...done(hellos)) / 1000, 2) : null,
        helloMs: summary(done(hellos), 0),
        caughtUpMs: summary(done(caught), 0),
        connectRetries: sum('connectRetries'),
        syncErrors: sum('syncErrors'),
        duplicatesDropped: sum('duplicatesDropped'),
        stormProcesses: shards,
        generatorNice: STORM_NICE,
        releaseSeenMs: Math.max(...parts.map((p) => p.releaseSeenMs)),
        startLoopMs: Math.max(...parts.map((p) => p.startLoopMs)),
        loadAvg1m: { atStorm: round(loadAtStorm, 2), after: round(loadavg()[0]!, 2) },
        // From the release until every shard was done: % of one core per process, and the
        // edge's CPU per reconnecting client.
        cpu: stormCpu(cpu, tRelease, tDone, clients),
        // Machine-wide, over the storm: an accept queue that overflowed shows as stragglers
        // waiting for their SYN to be sent again (1 s, then 3 s, 7 s).
        tcp: { somaxconn: somaxconn(), ...tcpDelta(tcpBefore, tcpAfter) },
        ...(clients < wanted ? { clientsCappedFrom: wanted } : {}),
        fileLimits: { edgeSoft: edge.soft, edgeHard: edge.hard, generator: self.hard },
        systemEnv: SYSTEM_ENV,
        targetSeconds: TARGET_SECONDS,
        meetsTarget: lost === 0 && allCaughtUpSeconds !== null && allCaughtUpSeconds <= TARGET_SECONDS,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await sys.stop();
    }
  },
};

function stormCpu(cpu: CpuSampler, from: number, to: number, clients: number): { seconds: number; perProcessPct: Record<string, number>; machineBusyPct: number | null; edgeMsPerClient: number | null } | null {
  const c = cpu.between(from, to);
  if (!c) return null;
  const seconds = (to - from) / 1000;
  const edge = c.perProcessPct['edge-0'];
  return { seconds: round(seconds, 2), ...c, edgeMsPerClient: edge === undefined ? null : round(((edge / 100) * seconds * 1000) / clients, 3) };
}
