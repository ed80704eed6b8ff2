import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { AcquireOptions } from '@chat/postgres';
import { LockLoop, type HeldLock } from './lockLoop';

/** An in-memory writer lock: every acquire takes it at once, until stopped; `lose` fails the one taken last. */
function memoryLock() {
  const taken: Array<{ released: boolean; lose(err: Error): void }> = [];
  const acquire = vi.fn(async (o: AcquireOptions): Promise<HeldLock | null> => {
    if (o.signal?.aborted) return null;
    let lose!: (err: Error) => void;
    const lost = new Promise<Error>((r) => (lose = r));
    const lock = { released: false, lose };
    taken.push(lock);
    return {
      lost,
      release: async () => {
        lock.released = true;
      },
    };
  });
  return { taken, acquire };
}

const log = pino({ level: 'silent' });

describe('LockLoop', () => {
  it('runs the work while the lock is held, then releases it', async () => {
    const { taken, acquire } = memoryLock();
    const loop = new LockLoop({ log, acquire, onLost: () => undefined });
    const seen: boolean[] = [];
    await loop.run(async () => {
      seen.push(loop.holding, taken[0]!.released);
      loop.stop();
      seen.push(loop.holding);
    });
    expect(seen).toEqual([true, false, false]);
    expect(taken.map((l) => l.released)).toEqual([true]);
    expect(acquire).toHaveBeenCalledTimes(1);
  });

  it('a lost lock ends holding, wakes a pause, and is taken again once the work ends', async () => {
    const { taken, acquire } = memoryLock();
    const onLost = vi.fn();
    const loop = new LockLoop({ log, acquire, onLost });
    let runs = 0;
    await loop.run(async () => {
      if (++runs === 1) {
        taken[0]!.lose(new Error('connection ended'));
        // Woken by the loss, long before the timer.
        await loop.pause(60_000);
        expect(loop.holding).toBe(false);
        expect(onLost).toHaveBeenCalledTimes(1);
        return;
      }
      expect(loop.holding).toBe(true);
      loop.stop();
    });
    expect(runs).toBe(2);
    expect(taken.map((l) => l.released)).toEqual([true, true]);
    expect(onLost).toHaveBeenCalledTimes(1);
  });

  it('stop ends the standing by, and a pause at once', async () => {
    // Another instance holds it: this one stands by until stopped.
    const acquire = vi.fn((o: AcquireOptions) => new Promise<HeldLock | null>((resolve) => o.signal?.addEventListener('abort', () => resolve(null))));
    const loop = new LockLoop({ log, acquire, standbyRetryMs: 100, onLost: () => undefined });
    const work = vi.fn(async () => undefined);
    const running = loop.run(work);
    const paused = loop.pause(60_000);
    expect(acquire).toHaveBeenCalledTimes(1);
    expect(acquire.mock.calls[0]![0].standbyRetryMs).toBe(100);
    loop.stop();
    await Promise.all([running, paused]);
    expect(work).not.toHaveBeenCalled();
    expect(loop.stopped).toBe(true);
    await loop.pause(60_000);
  });
});
