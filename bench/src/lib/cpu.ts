/**
 * CPU accounting from /proc (Linux): per process group (the apps by pid, the generator, the
 * servers by command name) and for the whole machine, sampled every 500 ms, so a scenario can
 * say per step where the CPU went. Elsewhere it reports nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ = 100 on Linux
const SERVERS = ['nats-server', 'postgres', 'redis-server'];

function procTicks(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return null;
  }
}

function serverTicks(): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(SERVERS.map((s) => [s, 0]));
  let dirs: string[] = [];
  try {
    dirs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of dirs) {
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      if (!(comm in out)) continue;
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out[comm]! += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return out;
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

interface Sample {
  at: number;
  groups: Record<string, number>;
  machine: { busy: number; total: number } | null;
}

export class CpuSampler {
  private readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;
  /** Processes sampled by pid, by name. */
  readonly pids: Record<string, number> = {};

  constructor(pids: Record<string, number> = {}) {
    Object.assign(this.pids, pids);
  }

  start(intervalMs = 500): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  sample(): void {
    const groups: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const t = procTicks(pid);
      if (t !== null) groups[name] = t;
    }
    Object.assign(groups, serverTicks());
    this.samples.push({ at: Date.now(), groups, machine: machineTicks() });
  }

  /** CPU % (100 = one core) per group between two epoch-ms instants, and the machine's busy % (100 = all cores). */
  between(from: number, to: number): { perProcessPct: Record<string, number>; machineBusyPct: number | null } | null {
    const a = [...this.samples].reverse().find((s) => s.at <= from) ?? this.samples[0];
    const b = this.samples.find((s) => s.at >= to) ?? this.samples[this.samples.length - 1];
    if (!a || !b || b.at <= a.at) return null;
    const ms = b.at - a.at;
    const perProcessPct: Record<string, number> = {};
    for (const [k, v] of Object.entries(b.groups)) {
      const v0 = a.groups[k];
      if (v0 === undefined) continue;
      perProcessPct[k] = Math.round((((v - v0) * TICK_MS) / ms) * 1000) / 10;
    }
    const machineBusyPct =
      a.machine && b.machine && b.machine.total > a.machine.total
        ? Math.round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * 1000) / 10
        : null;
    return { perProcessPct, machineBusyPct };
  }
}
