/**
 * connections: idle WebSocket connections to one edge, as many as the file limit allows (up to
 * BENCH_CONNECTIONS, default 50,000; quick: 2,000), each confirmed by `hello`, from several
 * generator processes and local source addresses. Reports how many are open at the end, the
 * edge's resident memory per connection (VmRSS before and after, from /proc) and how long
 * opening them took. Target: ≤ 10 KiB of edge RSS per idle connection at that count.
 *
 * The edge holds one file descriptor per connection: the count is capped below the edge's
 * open-files soft limit (read from /proc/<pid>/limits; Node raises it to the hard limit) and
 * the cap is reported.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_JWT_SECRET } from '@chat/contracts';
import type { BenchContext, Scenario } from '../context';
import { barrier, loopbackAddresses, sleep } from '../generators/lib/common';
import { fdCount, openFilesLimit, socketsLeft } from '../lib/fds';
import { edgeConnections } from '../lib/edgeMetrics';

const CEILING = Number(process.env['BENCH_CONNECTIONS'] ?? 50_000);
const QUICK_TARGET = 2_000;
const TARGET_BYTES_PER_CONNECTION = 10 * 1024;

const procStatus = (pid: number, field: string): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
};

interface ShardResult {
  shard: number;
  attempted: number;
  hellos: number;
  open: number;
  closedAfterHello: number;
  closeCodes: Record<string, number>;
  failures: Record<string, number>;
  startedAt: number;
  connectedAt: number;
  error?: string;
}

export const scenario: Scenario = {
  name: 'connections',
  async run(ctx: BenchContext) {
    const sys = await ctx.startSystem({ edges: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'bench-connections-'));
    try {
      const pid = sys.pids['edge-0'];
      if (!pid) throw new Error('no edge-0 pid');
      const limit = openFilesLimit(pid);
      const wanted = ctx.quick ? QUICK_TARGET : CEILING;
      const target = Math.min(wanted, socketsLeft(limit.soft, fdCount(pid)));
      const limitedBy = target < wanted ? 'edge file limit' : ctx.quick ? 'quick size' : 'ceiling (BENCH_CONNECTIONS)';
      ctx.progress(`connections: the edge's open-files limit is ${limit.soft} (hard ${limit.hard}): opening ${target} (limited by the ${limitedBy})`);
      const procs = ctx.quick ? 1 : 4;
      const perProc = Math.ceil(target / procs);
      const addresses = loopbackAddresses(4);
      const runId = Math.random().toString(36).slice(2, 8);

      await sleep(1_000);
      const rssBefore = procStatus(pid, 'VmRSS');
      const fdsBefore = fdCount(pid);
      ctx.progress(`connections: edge VmRSS ${(rssBefore / 2 ** 20).toFixed(1)} MiB before; opening ${target} over ${procs} process(es)`);

      const secret = sys.env['CHAT_JWT_SECRET'] ?? DEV_JWT_SECRET;
      let failed: unknown;
      const shards = Array.from({ length: procs }, (_, shard) => {
        const count = Math.max(0, Math.min(perProc, target - shard * perProc));
        return ctx
          .runGenerator<ShardResult>('connections', {
            wsUrl: sys.wsUrls[0],
            jwtSecret: secret,
            count,
            offset: shard * perProc,
            runId,
            shard,
            // Each process starts at a different address, so all of them are used from the start.
            localAddresses: addresses.map((_, k) => addresses[(k + shard) % addresses.length]!),
            concurrency: 100,
            barrierDir: dir,
            holdTimeoutMs: 600_000,
          })
          .catch((e: unknown) => {
            failed = e;
            barrier.release(dir); // let the other processes finish
            return { shard, error: String(e) } as ShardResult;
          });
      });

      // Wait until every process has opened its share (or one failed).
      const deadline = Date.now() + 600_000;
      while (barrier.arrivedCount(dir) < procs && !failed && Date.now() < deadline) await sleep(200);
      if (failed) throw failed as Error;
      await sleep(2_000); // settle: registrations done, buffers allocated
      const rssAfter = procStatus(pid, 'VmRSS');
      const hwm = procStatus(pid, 'VmHWM');
      const fdsAfter = fdCount(pid);
      const gauge = await edgeConnections(sys.opsUrl);
      barrier.release(dir);
      const results = await Promise.all(shards);
      const bad = results.find((r) => r.error);
      if (bad) throw new Error(`connections generator ${bad.shard}: ${bad.error}`);

      const count = results.reduce((n, r) => n + r.open, 0);
      const hellos = results.reduce((n, r) => n + r.hellos, 0);
      const failures: Record<string, number> = {};
      for (const r of results) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
      const closeCodes: Record<string, number> = {};
      for (const r of results) for (const [k, v] of Object.entries(r.closeCodes)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
      const connectSeconds = (Math.max(...results.map((r) => r.connectedAt)) - Math.min(...results.map((r) => r.startedAt))) / 1000;
      const perConnection = hellos > 0 ? Math.round((rssAfter - rssBefore) / hellos) : null;
      return {
        count,
        ceiling: wanted,
        attempted: target,
        limitedBy,
        hellos,
        failures,
        closedAfterHello: closeCodes,
        edgeGaugeConnections: gauge,
        connectSeconds: +connectSeconds.toFixed(2),
        connectionsPerSecond: Math.round(hellos / connectSeconds),
        rssBytesPerConnection: perConnection,
        rssKiBPerConnection: perConnection === null ? null : +(perConnection / 1024).toFixed(2),
        edgeRssBeforeMiB: +(rssBefore / 2 ** 20).toFixed(1),
        edgeRssAfterMiB: +(rssAfter / 2 ** 20).toFixed(1),
        edgeRssPeakMiB: +(hwm / 2 ** 20).toFixed(1),
        edgeFds: { before: fdsBefore, after: fdsAfter, softLimit: limit.soft, hardLimit: limit.hard },
        generatorProcesses: procs,
        sourceAddresses: addresses.length,
        targetBytesPerConnection: TARGET_BYTES_PER_CONNECTION,
        meetsTarget: count >= target && perConnection !== null && perConnection <= TARGET_BYTES_PER_CONNECTION,
      };
    } finally {
      barrier.release(dir);
      rmSync(dir, { recursive: true, force: true });
      await sys.stop();
    }
  },
};
