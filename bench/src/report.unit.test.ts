import { describe, expect, it } from 'vitest';
import type { E2eStep } from './lib/e2e';
import { evaluateTargets, notFinalReasons, renderMarkdown, renderSvg } from './report';

const step = (offeredPerSec: number, p99: number, sustained: boolean, allInUsPerMsg: number): E2eStep => ({
  offeredPerSec,
  sentPerSec: offeredPerSec,
  deliveredPerSec: offeredPerSec,
  deliveredRatio: sustained ? 1 : 0.9,
  latencyMs: { p50: p99 / 2, p95: p99, p99, max: p99 },
  sentAckMs: { p50: 1, p99: 2 },
  errors: 0,
  notSent: 0,
  generatorSendLagP99Ms: 1,
  generatorCpuPct: 10,
  cpu: { perProcessPct: { edge: 50 }, usPerMsg: { edge: 500 }, allInUsPerMsg, allInPct: 100, machineBusyPct: 60, machineUsPerMsg: 1000 },
  sustained,
  seconds: 15,
});

const run = (over: Record<string, unknown> = {}) => ({
  startedAt: '2026-01-01T00:00:00Z',
  quick: false,
  final: true,
  partial: [],
  git: { commit: 'abc', dirty: false },
  baselines: { jetstreamPublishPerSec: 30_000 },
  scenarios: [
    { name: 'e2e-1to1', connections: 1000, receipts: true, readShare: 0.5, maxSustainedPerSec: 5000, steps: [step(1000, 20, true, 400), step(5000, 90, true, 280), step(7000, 900, false, 250)] },
    { name: 'peer-socketio', maxSustainedPerSec: 2000, steps: [step(2000, 10, true, 100)] },
  ],
  ...over,
});

describe('report', () => {
  it('evaluates the targets from the result alone', () => {
    const rows = evaluateTargets(run());
    const get = (metric: string) => rows.find((r) => r.metric.startsWith(metric))!;
    expect(get('max sustained 1:1').met).toBe(true);
    expect(get('p99 send → receive at 5,000').met).toBe(true);
    expect(get('p99 send → receive at 1,000').met).toBe(true);
    expect(get('all-in CPU')).toMatchObject({ value: 280, met: true });
    expect(get('max sustained / JetStream')).toMatchObject({ value: 0.1667, met: true });
    expect(get('max sustained / peer-socketio')).toMatchObject({ value: 2.5, met: true });
    expect(rows.find((r) => r.scenario === 'group-fanout')).toMatchObject({ actual: 'not run', met: null });
    expect(rows.find((r) => r.scenario === 'floor')).toMatchObject({ actual: 'not run', met: null });
  });

  it('sets e2e-1to1 against the floor when the floor ran', () => {
    const floor = { name: 'floor', maxSustainedPerSec: 8000, steps: [step(8000, 30, true, 150)] };
    const r = run();
    const row = evaluateTargets(run({ scenarios: [...r.scenarios, floor] })).find((x) => x.scenario === 'floor')!;
    expect(row).toMatchObject({ actual: 'floor 8,000 msg/s; e2e-1to1 5,000 msg/s (62.5 % of the floor)', value: 8000, met: true });
  });

  it('judges the presence storm at its full size (4,998 clients in groups of 51), not at the quick one', () => {
    const presence = (clients: number, onlineP99: number) => ({
      name: 'presence-storm',
      clients,
      movers: clients / 5,
      flap: { presenceFrames: 0 },
      away: { afterGraceMs: { p99: 300 }, told: 10, expected: 10 },
      back: { firstCorrectFrameMs: { p99: onlineP99 }, told: 10, expected: 10 },
    });
    const row = (s: Record<string, unknown>) => evaluateTargets(run({ scenarios: [s] })).find((r) => r.scenario === 'presence-storm' && r.metric.startsWith('p99'))!;
    expect(row(presence(4998, 450)).met).toBe(true);
    expect(row(presence(4998, 650))).toMatchObject({ value: 650, met: false });
    expect(row(presence(510, 450)).met).toBeNull();
  });

  it('says plainly when a run is not final', () => {
    expect(notFinalReasons(run())).toEqual([]);
    expect(notFinalReasons(run({ final: false, git: { dirty: true }, partial: ['--quick'] }))).toEqual(['dirty tree', 'partial run (--quick)']);
    const md = renderMarkdown(run({ final: false, git: { dirty: true }, partial: ['--only'] }));
    expect(md).toContain('**NOT FINAL: dirty tree / partial run (--only).**');
    expect(renderMarkdown(run())).not.toContain('NOT FINAL');
    expect(renderSvg(run({ final: false, git: { dirty: true } }))).toContain('NOT FINAL: dirty tree');
  });

  it('prints the stored target rows in latest.md', () => {
    const r = run();
    const md = renderMarkdown({ ...r, targets: evaluateTargets(r) });
    expect(md).toContain('| e2e-1to1 | max sustained / peer-socketio max sustained | ≥ 1.5× | 2.5× (5,000 / 2,000) | ✅ |');
    expect(md).toContain('280 ✅');
  });

  it('prints each app’s event loop per step when the run sampled them', () => {
    const withLoop = { ...step(1000, 20, true, 400), loop: { projector: { lagMaxMs: 12, lagP99Ms: 9.1, gcMsPerSec: null }, 'edge-0': { lagMaxMs: 41.2, lagP99Ms: 18.5, gcMsPerSec: 17.3 } } };
    const r = run({ scenarios: [{ name: 'e2e-1to1', receipts: true, readShare: 0.5, maxSustainedPerSec: 1000, steps: [withLoop] }] });
    const md = renderMarkdown({ ...r, targets: evaluateTargets(r) });
    // Apps in name order, whichever answered first.
    expect(md).toContain('| offered/s | edge-0 | projector |');
    expect(md).toContain('| 1,000 | 41.2 · 18.5 · GC 17.3 | 12 · 9.1 · GC – |');
    // A run without samples prints no such table.
    const plain = run();
    expect(renderMarkdown({ ...plain, targets: evaluateTargets(plain) })).not.toContain('Event loops of the apps');
  });
});
