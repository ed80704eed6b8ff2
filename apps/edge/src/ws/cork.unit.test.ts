import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TickCork } from './cork';

/** A stream that records each system-call-sized write it is handed: one entry per write or writev. */
function recorder(): { stream: Writable; calls: string[][] } {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      cb();
    },
  });
  return { stream, calls };
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe('TickCork', () => {
  it('sends the frames one tick writes to a socket in one write, in order', async () => {
    const cork = new TickCork();
    const a = recorder();
    for (const f of ['1', '2', '3']) {
      cork.hold(a.stream);
      a.stream.write(f);
    }
    expect(a.calls).toEqual([]); // held until the tick ends
    await nextTick();
    expect(a.calls).toEqual([['1', '2', '3']]);
    expect(a.stream.writableCorked).toBe(0);
  });

  it('corks each socket once per tick, releases all of them together, and corks again in the next tick', async () => {
    const cork = new TickCork();
    const a = recorder();
    const b = recorder();
    cork.hold(a.stream);
    cork.hold(a.stream);
    cork.hold(b.stream);
    expect([a.stream.writableCorked, b.stream.writableCorked]).toEqual([1, 1]);
    a.stream.write('a1');
    b.stream.write('b1');
    await nextTick();
    expect([a.calls, b.calls]).toEqual([[['a1']], [['b1']]]);
    cork.hold(a.stream);
    a.stream.write('a2');
    a.stream.write('a3');
    await nextTick();
    expect(a.calls).toEqual([['a1'], ['a2', 'a3']]);
    expect(a.stream.writableCorked).toBe(0);
  });

  it('lets a socket that ends inside the tick flush and close', async () => {
    const cork = new TickCork();
    const a = recorder();
    cork.hold(a.stream);
    a.stream.write('last');
    a.stream.end();
    await nextTick();
    expect(a.calls.flat()).toEqual(['last']);
    expect(a.stream.writableFinished || a.stream.writableEnded).toBe(true);
  });
});
