import { describe, expect, it } from 'vitest';
import { ReceiptFrame } from '@chat/contracts';
import { receipt } from '../testing/events';
import { coalesceReceipts, coveredRanges, evolveReceipt, foldDevices, foldReceipts, receiptRoutes, toHour, type ReceiptEvent } from './evolve';
import { ReceiptBatchFrame } from '@chat/contracts';

const r = (...a: Parameters<typeof receipt>) => receipt(...a) as ReceiptEvent;

describe('receipts evolve', () => {
  it('read raises delivered too; watermarks never go back', () => {
    let row = evolveReceipt(null, r('MessagesDelivered', 'g1', 'bob', 5, { i: 1 }));
    expect(row).toMatchObject({ deliveredSeq: 5, readSeq: 0, readAt: null });
    row = evolveReceipt(row, r('MessagesRead', 'g1', 'bob', 3, { i: 2 }));
    expect(row).toMatchObject({ deliveredSeq: 5, deliveredAt: r('MessagesDelivered', 'g1', 'bob', 5, { i: 1 }).at, readSeq: 3 });
    row = evolveReceipt(row, r('MessagesRead', 'g1', 'bob', 8, { i: 3 }));
    expect(row).toMatchObject({ deliveredSeq: 8, readSeq: 8 });
    const same = evolveReceipt(row, r('MessagesDelivered', 'g1', 'bob', 2, { i: 4 }));
    expect(same).toEqual(row);
  });

  it('device watermarks and devices seen keep their times to the hour, whatever the batching', () => {
    expect(toHour('2024-05-01T10:59:59.999Z')).toBe('2024-05-01T10:00:00.000Z');
    expect(toHour('2024-05-01T11:00:00.000Z')).toBe('2024-05-01T11:00:00.000Z');
    expect(() => toHour('yesterday')).toThrow(/bad event time/);
    const events = [
      r('MessagesDelivered', 'g1', 'bob', 2, { device: 'bob-phone', i: 100 }),
      r('MessagesRead', 'g1', 'bob', 3, { device: 'bob-phone', i: 3700 }),
      r('MessagesDelivered', 'g1', 'bob', 3, { device: 'bob-phone', i: 7300 }),
    ];
    const { receipts, devices } = foldDevices(events);
    // The watermark's time is the hour of the event that moved it last (3,700 s: 11:00), not of a later one that did not move it.
    expect(receipts).toEqual([{ conversationId: 'g1', userId: 'bob', deviceId: 'bob-phone', deliveredSeq: 3, deliveredAt: '2024-05-01T11:00:00.000Z' }]);
    expect(devices).toEqual([{ userId: 'bob', deviceId: 'bob-phone', firstSeenAt: '2024-05-01T10:00:00.000Z', lastSeenAt: '2024-05-01T12:00:00.000Z' }]);
    // One event at a time, merged as the statement merges them (GREATEST/LEAST, the time with the watermark), gives the same rows.
    let row = foldDevices(events.slice(0, 1));
    for (const e of events.slice(1)) {
      const next = foldDevices([e]);
      const [a, b] = [row.receipts[0]!, next.receipts[0]!];
      row = {
        receipts: [b.deliveredSeq > a.deliveredSeq ? b : a],
        devices: [{ ...row.devices[0]!, firstSeenAt: [row.devices[0]!.firstSeenAt, next.devices[0]!.firstSeenAt].sort()[0]!, lastSeenAt: [row.devices[0]!.lastSeenAt, next.devices[0]!.lastSeenAt].sort()[1]! }],
      };
    }
    expect(row).toEqual({ receipts, devices });
  });

  it('a timestamp is the moment its watermark last moved', () => {
    const row = foldReceipts([r('MessagesRead', 'g1', 'bob', 4, { i: 1 }), r('MessagesRead', 'g1', 'bob', 4, { i: 2 })])[0]!;
    expect(row.readAt).toBe(r('MessagesRead', 'g1', 'bob', 4, { i: 1 }).at);
  });

  it('folds a batch into one row per member and conversation', () => {
    const rows = foldReceipts([
      r('MessagesDelivered', 'g1', 'bob', 2),
      r('MessagesDelivered', 'g1', 'carol', 1),
      r('MessagesRead', 'g1', 'bob', 2),
      r('MessagesDelivered', 'g2', 'bob', 9),
    ]);
    expect(rows.map((x) => [x.conversationId, x.userId, x.deliveredSeq, x.readSeq])).toEqual([
      ['g1', 'bob', 2, 2],
      ['g1', 'carol', 1, 0],
      ['g2', 'bob', 9, 0],
    ]);
  });

  it('routes to every member and the actor, never back to the acting device', () => {
    const ev = r('MessagesRead', 'g1', 'bob', 3, { device: 'b1' });
    const [route] = receiptRoutes([{ streamSeq: 9, event: ev }], new Map([['g1', ['alice', 'bob', 'carol']]]));
    expect(route!.users).toEqual(['alice', 'bob', 'carol']);
    expect(route!.exceptDevice).toEqual({ userId: 'bob', deviceId: 'b1' });
    expect(ReceiptFrame.parse(route!.frame)).toMatchObject({ status: 'read', upToSeq: 3, userId: 'bob' });
  });

  it('skips the edge that handed the receipt over at its append', () => {
    const ev = r('MessagesRead', 'd1', 'bob', 3, { device: 'b1' });
    const [handed, routed] = receiptRoutes([{ streamSeq: 9, event: ev, handedBy: 'e1' }, { streamSeq: 10, event: ev }], new Map([['d1', ['alice', 'bob']]]));
    expect(handed!.skipEdge).toBe('e1');
    expect(routed!.skipEdge).toBeUndefined();
  });

  it('knows the range each receipt newly covers, folding the batch in order', () => {
    const batch = [
      { streamSeq: 1, event: r('MessagesDelivered', 'g1', 'bob', 5) },
      { streamSeq: 2, event: r('MessagesRead', 'g1', 'bob', 3) },
      { streamSeq: 3, event: r('MessagesDelivered', 'g1', 'bob', 4) },
      { streamSeq: 4, event: r('MessagesRead', 'g1', 'carol', 9) },
    ];
    const ranges = coveredRanges(batch, new Map([['g1\u0000bob', { deliveredSeq: 2, readSeq: 1 }]]));
    expect([...ranges]).toEqual([
      [1, { from: 2, to: 5 }],
      [2, { from: 1, to: 3 }],
      [4, { from: 0, to: 9 }],
    ]);
  });

  it('coalesces a window into one receipt.batch per conversation: the highest per member and status', () => {
    const p = (userId: string, status: 'delivered' | 'read', upToSeq: number, senders: string[], conversationId = 'g1') =>
      ({ conversationId, userId, status, upToSeq, at: `t${upToSeq}`, streamSeq: upToSeq, senders });
    const routes = coalesceReceipts([p('bob', 'delivered', 3, ['alice']), p('bob', 'delivered', 5, ['carol']), p('bob', 'read', 2, ['alice']), p('dan', 'read', 1, ['alice']), p('x', 'read', 1, ['y'], 'g2')]);
    expect(routes).toHaveLength(2);
    const f = ReceiptBatchFrame.parse(routes[0]!.frame);
    expect(f.receipts).toEqual([
      { userId: 'bob', status: 'delivered', upToSeq: 5, at: 't5' },
      { userId: 'bob', status: 'read', upToSeq: 2, at: 't2' },
      { userId: 'dan', status: 'read', upToSeq: 1, at: 't1' },
    ]);
    expect([...routes[0]!.users].sort()).toEqual(['alice', 'carol']);
    expect(routes[1]!.users).toEqual(['y']);
  });
});
