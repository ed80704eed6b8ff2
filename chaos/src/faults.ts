import { log, type Topology } from './topology';
import type { Rng } from './rng';

export const FAULT_KINDS = ['edge-kill', 'command-kill', 'projector-kill', 'nats-kill', 'nats-stop', 'redis-wipe', 'postgres-restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  atSec: number;
  durationMs: number;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Injects faults one at a time, at random gaps, drawing kinds from a shuffled bag so every
 * kind comes up about equally often (each "several times" in a full run). Each fault ends
 * with the system whole again (the killed process restarted, the stopped node continued)
 * before the next gap starts.
 */
export class FaultInjector {
  readonly done: FaultRecord[] = [];
  /** Apps that exited without being killed by us, restarted by the injector. */
  readonly selfExits: string[] = [];
  private running = false;
  private loop?: Promise<void>;
  private bag: FaultKind[] = [];

  constructor(
    private readonly topo: Topology,
    private readonly rng: Rng,
    private readonly o: { gapMs: [number, number]; kinds?: readonly FaultKind[]; t0: number },
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private nextKind(): FaultKind {
    if (!this.bag.length) this.bag = this.rng.shuffle([...(this.o.kinds ?? FAULT_KINDS)]);
    return this.bag.pop()!;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const gap = this.rng.between(this.o.gapMs[0], this.o.gapMs[1]);
      const until = Date.now() + gap;
      while (this.running && Date.now() < until) await sleep(200);
      if (!this.running) break;
      this.selfExits.push(...(await this.topo.reviveDeadApps()));
      await this.inject(this.nextKind());
    }
    this.selfExits.push(...(await this.topo.reviveDeadApps()));
  }

  async inject(kind: FaultKind): Promise<void> {
    const { topo, rng } = this;
    const started = Date.now();
    let target = '';
    const rec = (error?: string) => {
      const r: FaultRecord = { kind, target, atSec: Math.round((started - this.o.t0) / 100) / 10, durationMs: Date.now() - started, ...(error ? { error } : {}) };
      this.done.push(r);
      log(`fault ${kind} ${target} (${r.durationMs} ms)${error ? ` ERROR ${error}` : ''}`);
    };
    try {
      switch (kind) {
        case 'edge-kill':
        case 'command-kill':
        case 'projector-kill': {
          const k = kind.split('-')[0];
          const slots = topo.apps.filter((a) => a.kind === k);
          const slot = slots[rng.int(slots.length)]!;
          target = slot.id;
          await topo.killApp(slot);
          await sleep(rng.between(300, 2_000));
          await topo.startApp(slot);
          break;
        }
        case 'nats-kill': {
          const i = rng.int(3);
          target = `n${i + 1}`;
          await topo.killNats(i);
          await sleep(rng.between(3_000, 10_000));
          await topo.startNats(i);
          break;
        }
        case 'nats-stop': {
          const i = rng.int(3);
          target = `n${i + 1}`;
          topo.stopNats(i);
          await sleep(rng.between(2_000, 8_000));
          topo.contNats(i);
          break;
        }
        case 'redis-wipe':
          target = 'redis';
          await topo.restartRedisEmpty();
          break;
        case 'postgres-restart':
          target = 'postgres';
          await topo.restartPostgres();
          break;
      }
      rec();
    } catch (e) {
      rec(e instanceof Error ? e.message : String(e));
    }
  }

  counts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const f of this.done) c[f.kind] = (c[f.kind] ?? 0) + 1;
    return c;
  }
}
