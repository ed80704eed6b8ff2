import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { connectNats } from '@chat/nats';
import { checkDelivery, rebuildAndDiff, ReceiptSampler, waitCaughtUp } from './checker';
import { FAULT_KINDS, FaultInjector, type FaultKind } from './faults';
import { rng } from './rng';
import { log, ROOT, startTopology } from './topology';
import { Workload } from './workload';

export interface ChaosOptions {
  seed: number;
  quick: boolean;
  users: number;
  /** Run until at least this many sends were acknowledged… */
  targetAcked: number;
  /** …and at least this many faults were injected. */
  minFaults: number;
  rate: number;
  gapMs: [number, number];
  kinds: readonly FaultKind[];
  /** Hard cap on the load phase. */
  maxLoadSec: number;
  portBase?: number;
  keepData?: boolean;
  commands?: number;
  writeResults?: boolean;
}

export function defaults(quick: boolean, seed = Date.now() % 1_000_000): ChaosOptions {
  return quick
    ? { seed, quick, users: 60, targetAcked: 2_000, minFaults: 7, rate: 40, gapMs: [4_000, 8_000], kinds: FAULT_KINDS, maxLoadSec: 110 }
    : { seed, quick, users: 300, targetAcked: 20_000, minFaults: 21, rate: 45, gapMs: [8_000, 18_000], kinds: FAULT_KINDS, maxLoadSec: 900 };
}

export interface ChaosSummary {
  acked: number;
  lost: number;
  duplicates: number;
  seqGaps: number;
  orderViolations: number;
  readModelDiffs: number;
  receiptRegressions: number;
  faults: Record<string, number> & { total: number };
  durationSec: number;
  seed: number;
  quick: boolean;
  /** Command processes (0: the edges host the command tier). */
  commands: number;
  ok: boolean;
  details: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosSummary> {
  const t0 = Date.now();
  log(`seed ${o.seed}, ${o.quick ? 'quick' : 'full'}: ${o.users} users, ≥ ${o.targetAcked} acked, ≥ ${o.minFaults} faults (${o.kinds.join(', ')})`);
  const r = rng(o.seed);
  const topo = await startTopology({ ...(o.portBase ? { portBase: o.portBase } : {}), ...(o.keepData ? { keepData: true } : {}), ...(o.commands !== undefined ? { commands: o.commands } : {}) });
  let workload: Workload | undefined;
  try {
    workload = new Workload({ urls: topo.edgeWsUrls, users: o.users, rate: o.rate, rng: r });
    await workload.setup();
    const sampler = new ReceiptSampler(topo.databaseUrl);
    sampler.start();
    const faults = new FaultInjector(topo, r, { gapMs: o.gapMs, kinds: o.kinds, t0 });
    const loadStart = Date.now();
    workload.start();
    faults.start();
    let lastReport = 0;
    while (
      (workload.ackedCount < o.targetAcked || faults.done.length < o.minFaults) &&
      Date.now() - loadStart < o.maxLoadSec * 1000
    ) {
      await sleep(500);
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        log(`load: ${workload.ackedCount} acked, ${workload.sendErrors} send errors, ${faults.done.length} faults`);
      }
    }
    const loadSec = (Date.now() - loadStart) / 1000;
    // Liveness: the load reached its target before the cap (a system that stops taking sends
    // for minutes loses nothing, and still fails the run).
    const reachedTarget = workload.ackedCount >= o.targetAcked && faults.done.length >= o.minFaults;
    log(`load phase over after ${loadSec.toFixed(0)} s${reachedTarget ? '' : ` WITHOUT reaching ${o.targetAcked} acked and ${o.minFaults} faults`}; stopping faults, quiescing`);

    // Quiescence: no more faults, everything up, sends settled, projections caught up.
    await faults.stop();
    for (let i = 0; i < 3; i++) if (!topo.natsUp(i)) await topo.startNats(i);
    const revived = await topo.reviveDeadApps();
    faults.selfExits.push(...revived);
    await topo.waitEdgesReady();
    await workload.stop(60_000);
    log(`sends settled: ${workload.ackedCount} acked, ${workload.abandoned} abandoned`);
    const nats = await connectChecker(topo.natsUrls.join(','));
    try {
      const caughtUp = await waitCaughtUp(nats, topo.names, o.quick ? 60_000 : 120_000);
      if (!caughtUp.ok) log(`WARNING: projections did not catch up: ${JSON.stringify(caughtUp.pending)}`);
      await sampler.stop();
      log('checking delivery (every device syncs)');
      const delivery = await checkDelivery(workload, topo.databaseUrl, o.quick ? 60_000 : 120_000);
      // The devices' syncs made them acknowledge what they got (receipts are events too): close
      // them and let the projector take the last of those in, so the live read models and the
      // rebuild below cover the same stream.
      workload.close();
      const settled = await waitCaughtUp(nats, topo.names, o.quick ? 60_000 : 120_000);
      if (!settled.ok) log(`WARNING: projections did not catch up after the delivery check: ${JSON.stringify(settled.pending)}`);
      log('rebuilding read models from the stream');
      const rebuild = await rebuildAndDiff(nats, topo.names, topo.databaseUrl);
      const stats = workload.devices.reduce(
        (s, d) => ({
          reconnects: s.reconnects + d.client.stats.reconnects,
          duplicatesDroppedBySdk: s.duplicatesDropped + d.client.stats.duplicatesDropped,
          duplicatesDropped: s.duplicatesDropped + d.client.stats.duplicatesDropped,
          gapsRepaired: s.gapsRepaired + d.client.stats.gapsRepaired,
          resent: s.resent + d.client.stats.resent,
        }),
        { reconnects: 0, duplicatesDroppedBySdk: 0, duplicatesDropped: 0, gapsRepaired: 0, resent: 0 },
      );
      const counts = faults.counts();
      const summary: ChaosSummary = {
        acked: workload.ackedCount,
        lost: delivery.lostInHistory + delivery.lostOnDevices,
        duplicates: delivery.duplicatesInHistory + delivery.duplicatesOnDevices + rebuild.streamAudit.duplicateSeqs,
        seqGaps: delivery.seqGaps,
        orderViolations: delivery.orderViolations,
        readModelDiffs: rebuild.diffs,
        receiptRegressions: sampler.regressions,
        faults: { ...counts, total: faults.done.length },
        durationSec: Math.round((Date.now() - t0) / 1000),
        seed: o.seed,
        quick: o.quick,
        commands: o.commands ?? 2,
        ok: false,
        details: {
          users: o.users,
          devices: workload.devices.length,
          conversations: workload.conversations.length,
          loadSec: Math.round(loadSec),
          reachedTarget,
          historyMessages: delivery.historyMessages,
          lostInHistory: delivery.lostInHistory,
          lostOnDevices: delivery.lostOnDevices,
          duplicatesInHistory: delivery.duplicatesInHistory,
          duplicatesOnDevices: delivery.duplicatesOnDevices,
          sendAttempts: workload.sendAttempts,
          sendErrors: workload.sendErrors,
          abandonedSends: workload.abandoned,
          projectionsCaughtUp: caughtUp.ok,
          pendingAtCheck: caughtUp.pending,
          receiptSamples: sampler.samples,
          receiptExamples: sampler.examples,
          sdk: { reconnects: stats.reconnects, duplicatesDropped: stats.duplicatesDropped, gapsRepaired: stats.gapsRepaired, resent: stats.resent },
          appRestarts: Object.fromEntries(topo.apps.map((a) => [a.id, a.restarts])),
          appSelfExits: topo.selfExits.map((e) => ({ id: e.id, code: e.code, at: e.at, reason: /"level":60.*?"message":"([^"]*)"/.exec(e.lastLog)?.[1] ?? e.lastLog.slice(-200) })),
          faultLog: faults.done,
          rebuild: { events: rebuild.events, error: rebuild.error, streamAudit: rebuild.streamAudit, tables: rebuild.tables, ignoredColumns: rebuild.ignoredColumns },
          examples: [...delivery.examples, ...rebuild.examples],
        },
      };
      summary.ok =
        summary.lost === 0 &&
        summary.duplicates === 0 &&
        summary.seqGaps === 0 &&
        summary.orderViolations === 0 &&
        summary.readModelDiffs === 0 &&
        summary.receiptRegressions === 0 &&
        reachedTarget &&
        workload.abandoned === 0;
      if (o.writeResults !== false) writeResults(summary);
      return summary;
    } finally {
      await nats.nc.close().catch(() => undefined);
    }
  } finally {
    workload?.close();
    await topo.stop();
  }
}

/** The checker's connection; a node restarted just before may not answer JetStream yet, so retry for a minute. */
async function connectChecker(urls: string): Promise<Awaited<ReturnType<typeof connectNats>>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await connectNats(urls, 'chaos-checker');
    } catch (e) {
      if (Date.now() > deadline) throw e;
      log(`checker cannot connect yet (${(e as Error).message}); retrying`);
      await sleep(1_000);
    }
  }
}

function writeResults(s: ChaosSummary): void {
  const dir = resolve(ROOT, 'chaos/results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(s, null, 2)}\n`;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(resolve(dir, `${stamp}${s.quick ? '-quick' : ''}.json`), json);
  writeFileSync(resolve(dir, latestName(s)), json);
}

/** The committed file a run replaces: quick runs, runs with edges hosting the command tier
 * (`--commands 0`) and runs with command processes each keep their own latest. */
function latestName(s: ChaosSummary): string {
  if (s.quick) return 'latest-quick.json';
  return s.commands === 0 ? 'latest-hosted.json' : 'latest.json';
}
