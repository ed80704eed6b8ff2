import { describe, expect, it } from 'vitest';
import { parseMetrics } from '@chat/testing';
import { loopReading, stepLoop, type LoopReading } from './loop';

describe('loopReading', () => {
  it('reads how late the monitor fired (s → ms, less its 10-ms interval) and the GC seconds of every kind', () => {
    const text = [
      'nodejs_eventloop_lag_max_seconds 0.0421',
      'nodejs_eventloop_lag_p99_seconds 0.0157',
      'nodejs_gc_duration_seconds_sum{kind="minor"} 0.25',
      'nodejs_gc_duration_seconds_sum{kind="major"} 0.5',
      'nodejs_gc_duration_seconds_count{kind="major"} 3',
    ].join('\n');
    const r = loopReading(parseMetrics(text), 1_000)!;
    expect(r.at).toBe(1_000);
    expect(r.lagMaxMs).toBeCloseTo(32.1, 6);
    expect(r.lagP99Ms).toBeCloseTo(5.7, 6);
    expect(r.gcSeconds).toBeCloseTo(0.75, 6);
  });

  it('reads an idle loop (the monitor on time, or early) as 0', () => {
    const r = loopReading(parseMetrics('nodejs_eventloop_lag_max_seconds 0.0101\nnodejs_eventloop_lag_p99_seconds 0.0092'), 1)!;
    expect(r.lagMaxMs).toBeCloseTo(0.1, 6);
    expect(r.lagP99Ms).toBe(0);
  });

  it('is null for an app that exports no event-loop figures', () => {
    expect(loopReading(parseMetrics('chat_ws_connections 3'), 1)).toBeNull();
  });
});

describe('stepLoop', () => {
  const at = (s: number, lagMaxMs: number, lagP99Ms: number, gcSeconds: number): LoopReading => ({ at: s * 1_000, lagMaxMs, lagP99Ms, gcSeconds });
  // Readings once a second; the step runs from 10 s to 13 s.
  const readings = [at(9, 80, 70, 1.0), at(10, 90, 60, 1.1), at(11, 12, 9, 1.12), at(12, 35, 20, 1.15), at(13, 14, 11, 1.16), at(14, 99, 99, 2.0)];

  it('takes the worst second inside the step, not those around it', () => {
    const s = stepLoop(readings, 10_000, 13_000)!;
    expect(s.lagMaxMs).toBe(35);
    expect(s.lagP99Ms).toBe(20);
  });

  it('counts GC from the last reading before the step to the last one in it, per second', () => {
    // (1.16 - 1.1) s over 3 s = 20 ms a second.
    expect(stepLoop(readings, 10_000, 13_000)!.gcMsPerSec).toBe(20);
  });

  it('is null with no reading inside the step, and has no GC rate without one before it', () => {
    expect(stepLoop(readings, 20_000, 25_000)).toBeNull();
    expect(stepLoop(readings, 8_000, 9_000)!.gcMsPerSec).toBeNull();
  });
});
