import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientFrame } from '@chat/contracts';
import { DeliveredAcks } from './acks';

let written: ClientFrame[];
let online: boolean;
const acks = () => new DeliveredAcks({ connected: () => online, write: (f) => written.push(f), delayMs: 50 });

beforeEach(() => {
  vi.useFakeTimers();
  written = [];
  online = true;
});
afterEach(() => vi.useRealTimers());

describe('DeliveredAcks', () => {
  it('writes one message.delivered per conversation, at the highest seq, after the delay', async () => {
    const a = acks();
    a.queue('a', 2);
    a.queue('a', 5);
    a.queue('a', 3);
    a.queue('b', 1);
    await vi.advanceTimersByTimeAsync(49);
    expect(written).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(written).toEqual([
      { type: 'message.delivered', conversationId: 'a', upToSeq: 5 },
      { type: 'message.delivered', conversationId: 'b', upToSeq: 1 },
    ]);
  });

  it('keeps what is queued while offline and writes it on the next flush', async () => {
    const a = acks();
    online = false;
    a.queue('a', 4);
    await vi.advanceTimersByTimeAsync(50);
    expect(written).toEqual([]);
    online = true;
    a.flush();
    expect(written).toEqual([{ type: 'message.delivered', conversationId: 'a', upToSeq: 4 }]);
    a.flush();
    expect(written).toHaveLength(1);
  });

  it('stop cancels the timer but keeps the queue', async () => {
    const a = acks();
    a.queue('a', 1);
    a.stop();
    await vi.advanceTimersByTimeAsync(100);
    expect(written).toEqual([]);
    a.queue('a', 2); // schedules again
    await vi.advanceTimersByTimeAsync(50);
    expect(written).toEqual([{ type: 'message.delivered', conversationId: 'a', upToSeq: 2 }]);
  });
});
