import { describe, expect, it } from 'vitest';
import { stepCpu, ticksToPct, usPerMessage } from './cpu';

describe('µs of CPU per delivered message', () => {
  it('is CPU seconds per second over messages per second', () => {
    // one full core at 5,000 msg/s: 200 µs a message
    expect(usPerMessage(100, 5000)).toBe(200);
    // 30 % of a core at 1,000 msg/s: 300 µs
    expect(usPerMessage(30, 1000)).toBe(300);
    // a whole 2-core machine (200 %) at 5,000 msg/s: 400 µs
    expect(usPerMessage(200, 5000)).toBe(400);
  });

  it('is null without deliveries or CPU figures', () => {
    expect(usPerMessage(50, 0)).toBeNull();
    expect(usPerMessage(null, 100)).toBeNull();
    expect(usPerMessage(undefined, 100)).toBeNull();
  });

  it('converts ticks (10 ms) over wall time to % of a core', () => {
    expect(ticksToPct(150, 1500)).toBe(100);
    expect(ticksToPct(75, 1500)).toBe(50);
    expect(ticksToPct(1, 3000)).toBe(0.3);
  });

  it('sums the system (apps and servers) for the all-in figure and leaves the generators out', () => {
    const c = stepCpu(
      { 'command-1': 20, 'command-2': 1, edge: 30, 'nats-server': 25, postgres: 40, 'redis-server': 4, generator: 35 },
      { 'command-1': 'app', 'command-2': 'app', edge: 'app', 'nats-server': 'server', postgres: 'server', 'redis-server': 'server', generator: 'generator' },
      80,
      1000,
      2,
    );
    expect(c.allInPct).toBe(120);
    expect(c.allInUsPerMsg).toBe(1200);
    expect(c.usPerMsg['postgres']).toBe(400);
    expect(c.usPerMsg['generator']).toBe(350);
    // 80 % of 2 cores = 1.6 CPU-s per s over 1,000 msg/s
    expect(c.machineUsPerMsg).toBe(1600);
  });
});
