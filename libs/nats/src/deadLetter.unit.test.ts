import { describe, expect, it } from 'vitest';
import { deadLetterEntry, deadLetterMsgId, parseDeadLetter, shouldDeadLetter } from './deadLetter';

describe('dead letters', () => {
  it('dead-letters on the last delivery only, never with unlimited deliveries', () => {
    expect(shouldDeadLetter(1, 3)).toBe(false);
    expect(shouldDeadLetter(2, 3)).toBe(false);
    expect(shouldDeadLetter(3, 3)).toBe(true);
    expect(shouldDeadLetter(4, 3)).toBe(true);
    expect(shouldDeadLetter(1000, -1)).toBe(false);
    expect(shouldDeadLetter(1000, 0)).toBe(false);
  });

  it('keeps the original bytes, headers and where it came from', () => {
    const data = new TextEncoder().encode('{"a":1}\u0000');
    const e = deadLetterEntry({
      stream: 'CHAT_CMD',
      subject: 'chat.cmd.conv.c1.send',
      streamSeq: 42,
      consumer: 'command-handler',
      deliveryCount: 10,
      error: new Error('boom'),
      data,
      headers: { 'Nats-Msg-Id': 'cmd-1' },
      time: new Date('2025-01-02T03:04:05Z'),
    });
    expect(e).toEqual({
      v: 1,
      stream: 'CHAT_CMD',
      subject: 'chat.cmd.conv.c1.send',
      seq: 42,
      consumer: 'command-handler',
      deliveries: 10,
      error: 'boom',
      time: '2025-01-02T03:04:05.000Z',
      data: Buffer.from(data).toString('base64'),
      headers: { 'Nats-Msg-Id': 'cmd-1' },
    });
    expect(parseDeadLetter(JSON.stringify(e))).toEqual(e);
    expect(() => parseDeadLetter('{"v":2}')).toThrow();
    expect(deadLetterMsgId('CHAT_CMD', 42, 'command-handler')).toBe('CHAT_CMD:42:command-handler');
    expect(deadLetterEntry({ stream: 'S', subject: 's', consumer: 'c', streamSeq: 1, deliveryCount: 1, error: 'x', data, skipped: true }).skipped).toBe(true);
  });
});
