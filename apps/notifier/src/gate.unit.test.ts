import { describe, expect, it } from 'vitest';
import { ProjectionGate, type GateClock } from './gate';

/** A clock that moves only when someone sleeps. */
function fakeClock(): GateClock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

describe('ProjectionGate', () => {
  it('lets an event through once the projections applied it, reading the position once per poll for every waiter', async () => {
    const clock = fakeClock();
    let position = 5;
    let reads = 0;
    const gate = new ProjectionGate(
      async () => {
        reads++;
        return position;
      },
      { pollMs: 100, clock },
    );
    expect(await gate.reached(5, { maxWaitMs: 1_000 })).toBe(true);
    expect(reads).toBe(1);
    // Already known: no read.
    expect(await gate.reached(3, { maxWaitMs: 1_000 })).toBe(true);
    expect(reads).toBe(1);

    // Behind: waits, polling, until the position moves.
    const waiting = gate.reached(8, { maxWaitMs: 10_000 });
    for (let i = 0; i < 20; i++) await Promise.resolve();
    position = 8;
    await expect(waiting).resolves.toBe(true);
    expect(clock.t).toBeGreaterThan(0);
  });

  it('shares one position read among concurrent waiters', async () => {
    let reads = 0;
    let answer!: (n: number) => void;
    const gate = new ProjectionGate(
      () => {
        reads++;
        return new Promise<number>((r) => (answer = r));
      },
      { pollMs: 100, clock: fakeClock() },
    );
    const a = gate.reached(4, { maxWaitMs: 1_000 });
    const b = gate.reached(3, { maxWaitMs: 1_000 });
    answer(4);
    await expect(a).resolves.toBe(true);
    await expect(b).resolves.toBe(true);
    expect(reads).toBe(1);
  });

  it('gives up after maxWaitMs, calling the heartbeat meanwhile, and survives failed reads', async () => {
    const clock = fakeClock();
    let fail = true;
    const gate = new ProjectionGate(
      async () => {
        if (fail) throw new Error('postgres down');
        return 1;
      },
      { pollMs: 100, clock },
    );
    const beats: number[] = [];
    expect(await gate.reached(10, { maxWaitMs: 1_000, heartbeat: () => beats.push(clock.t), heartbeatMs: 300 })).toBe(false);
    expect(clock.t).toBeGreaterThanOrEqual(1_000);
    expect(beats).toEqual([300, 600, 900]);
    fail = false;
    expect(await gate.reached(1, { maxWaitMs: 1_000 })).toBe(true);
  });

  it('ends every wait when closed', async () => {
    const gate = new ProjectionGate(async () => 1, { pollMs: 100, clock: fakeClock() });
    const waiting = gate.reached(5, { maxWaitMs: 1e12 });
    for (let i = 0; i < 5; i++) await Promise.resolve();
    gate.close();
    await expect(waiting).resolves.toBe(false);
  });
});
