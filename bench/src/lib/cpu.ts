/**
 * CPU accounting from /proc (Linux) for the processes of one system, by PID: the apps it
 * started, the load generators, and the NATS, Postgres and Redis servers it actually uses
 * (found by the port they listen on, lib/pids.ts; Postgres counted with every child of its
 * postmaster). Nothing is matched by process name, so other servers or apps on the machine
 * are not counted. Sampled every 500 ms, so a scenario can say per step where the CPU went
 * and how many µs of CPU each delivered message cost. Elsewhere it reports nothing.
 */
import { readFileSync } from 'node:fs';
import { childrenOf, discoverServers, readStat, type ServerProcess } from './pids';

const TICK_MS = 10; // USER_HZ = 100 on Linux

export type Role = 'app' | 'server' | 'generator';

export interface Tracked {
  name: string;
  pid: number;
  role: Role;
  /** Children counted too (their live time, plus what exited children left in the parent's cutime/cstime). */
  withChildren?: boolean;
}

/** CPU ticks of a process; with children: its own, its reaped children's (cutime + cstime) and its live children's. */
function ticks(t: Tracked): number | null {
  const s = readStat(t.pid);
  if (!s) return null;
  let n = s.utime + s.stime;
  if (t.withChildren) {
    n += s.cutime + s.cstime;
    for (const c of childrenOf(t.pid)) {
      const cs = readStat(c);
      if (cs) n += cs.utime + cs.stime;
    }
  }
  return n;
}

function machineTicks(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** µs of CPU per delivered message from a CPU share (100 = one core) and a delivery rate: (pct / 100) CPU-seconds per second / messages per second. */
export function usPerMessage(cpuPct: number | null | undefined, deliveredPerSec: number): number | null {
  if (cpuPct == null || !(deliveredPerSec > 0)) return null;
  return Math.round(((cpuPct / 100) * 1e6) / deliveredPerSec);
}

/** CPU % of a core from ticks over a wall-clock interval. */
export function ticksToPct(ticksUsed: number, ms: number): number {
  return Math.round(((ticksUsed * TICK_MS) / ms) * 1000) / 10;
}

export interface StepCpu {
  /** CPU % of one core per process over the step. */
  perProcessPct: Record<string, number>;
  /** µs of CPU per message delivered in the step, per process. */
  usPerMsg: Record<string, number | null>;
  /** The system's processes (apps and servers, not the generators): µs of CPU per delivered message. */
  allInUsPerMsg: number | null;
  /** The same in % of one core. */
  allInPct: number;
  /** Whole machine busy % (100 = every core). */
  machineBusyPct: number | null;
  /** The whole machine's busy CPU (every process, the generators and anything else running) per delivered message. */
  machineUsPerMsg: number | null;
}

interface Sample {
  at: number;
  ticks: Record<string, number>;
  machine: { busy: number; total: number } | null;
}

export class CpuSampler {
  private readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;
  private readonly tracked = new Map<string, Tracked>();
  /** Servers looked up by port (with the ones not found and why). */
  readonly servers: ServerProcess[] = [];

  constructor(opts: { apps?: Record<string, number>; servers?: { nats?: string; postgres?: string; redis?: string } } = {}) {
    for (const [name, pid] of Object.entries(opts.apps ?? {})) this.track({ name, pid, role: 'app' });
    if (opts.servers) {
      for (const s of discoverServers(opts.servers)) {
        this.servers.push(s);
        if (s.pid !== null) this.track({ name: s.name, pid: s.pid, role: 'server', withChildren: s.withChildren });
      }
    }
  }

  track(t: Tracked): void {
    this.tracked.set(t.name, t);
  }

  /** name → {pid, role}: what the figures cover. */
  processes(): Record<string, { pid: number; role: Role; withChildren?: boolean }> {
    return Object.fromEntries([...this.tracked.values()].map((t) => [t.name, { pid: t.pid, role: t.role, ...(t.withChildren ? { withChildren: true } : {}) }]));
  }

  start(intervalMs = 500): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  sample(): void {
    const t: Record<string, number> = {};
    for (const p of this.tracked.values()) {
      const n = ticks(p);
      if (n !== null) t[p.name] = n;
    }
    this.samples.push({ at: Date.now(), ticks: t, machine: machineTicks() });
  }

  /** CPU % (100 = one core) per process between two epoch-ms instants, and the machine's busy % (100 = all cores). */
  between(from: number, to: number): { perProcessPct: Record<string, number>; machineBusyPct: number | null } | null {
    const a = [...this.samples].reverse().find((s) => s.at <= from) ?? this.samples[0];
    const b = this.samples.find((s) => s.at >= to) ?? this.samples[this.samples.length - 1];
    if (!a || !b || b.at <= a.at) return null;
    const ms = b.at - a.at;
    const perProcessPct: Record<string, number> = {};
    for (const [k, v] of Object.entries(b.ticks)) {
      const v0 = a.ticks[k];
      if (v0 === undefined) continue;
      perProcessPct[k] = ticksToPct(v - v0, ms);
    }
    const machineBusyPct =
      a.machine && b.machine && b.machine.total > a.machine.total ? Math.round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * 1000) / 10 : null;
    return { perProcessPct, machineBusyPct };
  }

  /** The step's CPU with µs per delivered message (see stepCpu). */
  step(from: number, to: number, deliveredPerSec: number, cpus: number): StepCpu | null {
    const c = this.between(from, to);
    if (!c) return null;
    const roles = Object.fromEntries([...this.tracked.values()].map((t) => [t.name, t.role]));
    return stepCpu(c.perProcessPct, roles, c.machineBusyPct, deliveredPerSec, cpus);
  }
}

/** Pure: per-process and all-in µs per delivered message from the step's CPU shares. */
export function stepCpu(perProcessPct: Record<string, number>, roles: Record<string, Role>, machineBusyPct: number | null, deliveredPerSec: number, cpus: number): StepCpu {
  const usPerMsg: Record<string, number | null> = {};
  let allInPct = 0;
  for (const [k, pct] of Object.entries(perProcessPct)) {
    usPerMsg[k] = usPerMessage(pct, deliveredPerSec);
    if (roles[k] !== 'generator') allInPct += pct;
  }
  allInPct = Math.round(allInPct * 10) / 10;
  return {
    perProcessPct,
    usPerMsg,
    allInUsPerMsg: usPerMessage(allInPct, deliveredPerSec),
    allInPct,
    machineBusyPct,
    machineUsPerMsg: machineBusyPct === null ? null : usPerMessage(machineBusyPct * cpus, deliveredPerSec),
  };
}
