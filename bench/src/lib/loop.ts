/**
 * Event-loop stalls and GC of the system's Node.js apps, read from their ops ports: the
 * `nodejs_eventloop_lag_*` gauges (prom-client's default metrics; each scrape reports the delay
 * since the previous one and starts a new window) and `nodejs_gc_duration_seconds_sum`. Sampled
 * once a second, so a step says per app how long its event loop was held up at worst (a task or
 * a GC pause every message passing through that process waits behind) and how much of the step
 * went to GC. Together with the CPU per process (cpu.ts) this tells a tail that comes from one
 * app's stalls from one that comes from the machine's cores being shared.
 *
 * The scrape costs each app the rendering of its `/metrics` once a second (the edge's is about
 * 33 KB; at 1,000 msg/s a scrape took 13–33 ms of wall time, most of it waiting for the loop).
 */
import { metricSum, scrapeMetrics, type MetricSample } from '@chat/testing';

export interface LoopReading {
  /** Epoch ms the scrape returned; it covers the second before. */
  at: number;
  /** The longest delay of the loop in that second, ms (beyond the monitor's interval). */
  lagMaxMs: number;
  /** Its p99, ms (beyond the monitor's interval). */
  lagP99Ms: number;
  /** Cumulative GC seconds since the app started. */
  gcSeconds: number;
}

export interface StepLoop {
  /** The longest event-loop delay of any second of the step. */
  lagMaxMs: number;
  /** The highest of the seconds' p99 event-loop delays. */
  lagP99Ms: number;
  /** GC time per second of the step, ms. */
  gcMsPerSec: number | null;
}

/**
 * prom-client's monitoring interval (`eventLoopMonitoringPrecision`, default 10 ms): its figures
 * are the intervals between the monitor's 10-ms timer firings, so an idle loop reads 10 ms.
 * Subtracted, a reading is how late the timer fired: how long the loop was held up.
 */
export const MONITOR_INTERVAL_MS = 10;

const late = (seconds: number) => Math.max(0, seconds * 1000 - MONITOR_INTERVAL_MS);

/** Pure: one reading from a scrape (null when the app exports no event-loop figures). */
export function loopReading(samples: readonly MetricSample[], at: number): LoopReading | null {
  if (!samples.some((s) => s.name === 'nodejs_eventloop_lag_max_seconds')) return null;
  return {
    at,
    lagMaxMs: late(metricSum(samples, 'nodejs_eventloop_lag_max_seconds')),
    lagP99Ms: late(metricSum(samples, 'nodejs_eventloop_lag_p99_seconds')),
    gcSeconds: metricSum(samples, 'nodejs_gc_duration_seconds_sum'),
  };
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Pure: a step's figures from one app's readings. A reading counts for the step when the second
 * it covers ends inside [from, to + half a second]; GC is the difference between the last
 * reading before the step and the last one inside it.
 */
export function stepLoop(readings: readonly LoopReading[], from: number, to: number, periodMs = 1_000): StepLoop | null {
  const inside = readings.filter((r) => r.at - periodMs / 2 >= from && r.at <= to + periodMs / 2);
  if (inside.length === 0) return null;
  const before = [...readings].reverse().find((r) => r.at <= from);
  const last = inside[inside.length - 1]!;
  const gcMsPerSec = before && last.at > before.at ? r1(((last.gcSeconds - before.gcSeconds) * 1e6) / (last.at - before.at)) : null;
  return {
    lagMaxMs: r1(Math.max(...inside.map((r) => r.lagMaxMs))),
    lagP99Ms: r1(Math.max(...inside.map((r) => r.lagP99Ms))),
    gcMsPerSec,
  };
}

/** Scrapes every app's ops port once a period; `step` summarises a window per app. */
export class LoopSampler {
  private readonly readings = new Map<string, LoopReading[]>();
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;

  constructor(
    /** app name → its ops URL (http://127.0.0.1:<CHAT_OPS_PORT>). */
    private readonly apps: Record<string, string>,
    private readonly periodMs = 1_000,
  ) {}

  start(): this {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.periodMs);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    await this.sample();
  }

  private sample(): Promise<void> {
    // One round at a time: a slow app makes the next round late, not overlapping.
    if (this.inFlight) return this.inFlight;
    this.inFlight = (async () => {
      await Promise.all(
        Object.entries(this.apps).map(async ([name, url]) => {
          const samples = await scrapeMetrics(url).catch(() => null);
          const r = samples && loopReading(samples, Date.now());
          if (!r) return;
          const list = this.readings.get(name) ?? [];
          list.push(r);
          this.readings.set(name, list);
        }),
      );
    })().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Per app, the window's figures (apps with no reading in it left out). */
  step(from: number, to: number): Record<string, StepLoop> {
    const out: Record<string, StepLoop> = {};
    for (const [name, list] of this.readings) {
      const s = stepLoop(list, from, to, this.periodMs);
      if (s) out[name] = s;
    }
    return out;
  }
}
