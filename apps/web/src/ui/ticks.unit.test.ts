import { describe, expect, it } from 'vitest';
import { applyReceipt, movesFromReceipts, tickOf, type Mark } from './ticks';

describe('ticks', () => {
  it('pending until stored, then sent, delivered and read as watermarks pass the seq', () => {
    const marks = new Map<string, Mark>();
    expect(tickOf({}, ['bob'], marks)).toBe('pending');
    expect(tickOf({ seq: 3 }, ['bob'], marks)).toBe('sent');
    applyReceipt(marks, { userId: 'bob', status: 'delivered', upToSeq: 2 });
    expect(tickOf({ seq: 3 }, ['bob'], marks)).toBe('sent');
    applyReceipt(marks, { userId: 'bob', status: 'delivered', upToSeq: 3 });
    expect(tickOf({ seq: 3 }, ['bob'], marks)).toBe('delivered');
    expect(tickOf({ seq: 1 }, ['bob'], marks)).toBe('delivered');
    applyReceipt(marks, { userId: 'bob', status: 'read', upToSeq: 5 });
    expect(tickOf({ seq: 3 }, ['bob'], marks)).toBe('read');
  });

  it('a read implies delivered, and watermarks never go back', () => {
    const marks = new Map<string, Mark>();
    expect(applyReceipt(marks, { userId: 'bob', status: 'read', upToSeq: 4 })).toBe(true);
    expect(marks.get('bob')).toEqual({ delivered: 4, read: 4 });
    expect(applyReceipt(marks, { userId: 'bob', status: 'delivered', upToSeq: 2 })).toBe(false);
    expect(applyReceipt(marks, { userId: 'bob', status: 'read', upToSeq: 3 })).toBe(false);
    expect(marks.get('bob')).toEqual({ delivered: 4, read: 4 });
  });

  it('in a group every other member must have it: ✓✓ when all delivered, read when all read', () => {
    const marks = new Map<string, Mark>();
    const others = ['bob', 'carol'];
    applyReceipt(marks, { userId: 'bob', status: 'read', upToSeq: 7 });
    expect(tickOf({ seq: 7 }, others, marks)).toBe('sent');
    applyReceipt(marks, { userId: 'carol', status: 'delivered', upToSeq: 7 });
    expect(tickOf({ seq: 7 }, others, marks)).toBe('delivered');
    applyReceipt(marks, { userId: 'carol', status: 'read', upToSeq: 9 });
    expect(tickOf({ seq: 7 }, others, marks)).toBe('read');
  });

  it('a failed send shows as failed; with nobody else it stays sent', () => {
    expect(tickOf({ seq: 1, failed: 'forbidden' }, ['bob'], new Map())).toBe('failed');
    expect(tickOf({ failed: 'timed out' }, ['bob'], new Map())).toBe('failed');
    expect(tickOf({ seq: 1 }, [], new Map())).toBe('sent');
  });

  it('the receipts API answer becomes watermark moves at that message', () => {
    const moves = movesFromReceipts(12, {
      delivered: [
        { userId: 'bob', at: null, devices: { delivered: 1, total: 1 } },
        { userId: 'carol', at: null, devices: { delivered: 1, total: 2 } },
      ],
      read: [{ userId: 'bob', at: null }],
      pending: ['dave'],
    });
    const marks = new Map<string, Mark>();
    for (const m of moves) applyReceipt(marks, m);
    expect(Object.fromEntries(marks)).toEqual({ bob: { delivered: 12, read: 12 }, carol: { delivered: 12, read: 0 } });
    expect(tickOf({ seq: 12 }, ['bob', 'carol'], marks)).toBe('delivered');
    expect(tickOf({ seq: 12 }, ['bob', 'carol', 'dave'], marks)).toBe('sent');
  });
});
