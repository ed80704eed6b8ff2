import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_LIMITS, startSystem, type RunningSystem } from '../support/system';
import { runFuzz } from '../fuzz/fuzzer';

/** The quick fuzz (the full one is `npm run fuzz`): the edge with its default limits. */
let sys: RunningSystem;

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), DEFAULT_LIMITS);
}, 60_000);

afterAll(async () => {
  await sys?.stop();
});

describe('fuzz (quick)', () => {
  it('5,000 bad frames from 20 connections: every one answered as protocol.md says, the edge stays up, a chat goes on', async () => {
    const report = await runFuzz({
      wsUrl: sys.wsUrl,
      httpUrl: sys.httpUrl,
      edgePid: sys.edge.child.pid,
      seed: 42,
      frames: 5_000,
      connections: 20,
      wellBehavedPairs: 2,
      run: `qf${Math.random().toString(36).slice(2, 8)}`,
    });
    console.log(`fuzz (quick): ${JSON.stringify({ ...report, byKind: Object.fromEntries(Object.entries(report.byKind).map(([k, v]) => [k, { sent: v.sent, ...v.answers }])) })}`);
    expect(report.unexpected).toEqual({});
    expect(report.media.unexpected).toEqual({});
    expect(report.media.sent).toBeGreaterThanOrEqual(250);
    expect(report.users.unexpected).toEqual({});
    expect(report.users.sent).toBeGreaterThanOrEqual(250);
    expect(report.totals.timeouts).toBe(0);
    expect(report.readyz.failures).toBe(0);
    expect(sys.edge.child.exitCode).toBeNull();
    expect((await fetch(`${sys.httpUrl}/readyz`)).status).toBe(200);
    expect(report.totals.badRequest).toBeGreaterThan(1000);
    expect(report.closes[1003]).toBeGreaterThan(0);
    expect(report.closes[1007]).toBeGreaterThan(0);
    expect(report.closes[1008]).toBeGreaterThan(0);
    expect(report.closes[1009]).toBeGreaterThan(0);
    expect(report.wellBehaved.delivered).toBeGreaterThan(0);
    expect(report.wellBehaved.failed).toBe(0);
  }, 120_000);
});
