import { describe, expect, it } from 'vitest';
import type { ClientFrame } from '@chat/contracts';
import { Outbox } from './outbox';

const send = (clientMsgId: string): ClientFrame => ({ type: 'message.send', clientMsgId, conversationId: 'c', body: { text: clientMsgId } });

describe('Outbox', () => {
  it('keeps a frame while its request is pending, whether it is answered or fails', async () => {
    const o = new Outbox();
    let answer!: (v: string) => void;
    let fail!: (e: Error) => void;
    const a = o.track('k1', send('k1'), () => new Promise<string>((r) => (answer = r)));
    const b = o.track('k2', send('k2'), () => new Promise<string>((_, r) => (fail = r)));
    expect([o.size, o.has('k1'), o.has('k2')]).toEqual([2, true, true]);
    answer('sent');
    await expect(a).resolves.toBe('sent');
    expect(o.has('k1')).toBe(false);
    fail(new Error('refused'));
    await expect(b).rejects.toThrow('refused');
    expect(o.size).toBe(0);
  });

  it('writes every pending frame again, in the order they were added', () => {
    const o = new Outbox();
    void o.track('k1', send('k1'), () => new Promise(() => undefined));
    void o.track('k2', send('k2'), () => new Promise(() => undefined));
    const written: ClientFrame[] = [];
    expect(o.resend((f) => written.push(f))).toBe(2);
    expect(written).toEqual([send('k1'), send('k2')]);
    o.clear();
    expect(o.resend((f) => written.push(f))).toBe(0);
    expect(written).toHaveLength(2);
  });
});
