import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { ChatError, type ClientFrame, type ServerFrameOf } from '@chat/contracts';
import { Requests, type AnswerOf, type AnsweredBy, type RequestType } from './requests';

let written: ClientFrame[];
let online: boolean;
const requests = () =>
  new Requests({
    write: (f) => {
      if (!online) throw new ChatError('unavailable', 'not connected');
      written.push(f);
    },
    connected: () => online,
    timeoutMs: 1_000,
  });
const sent = (clientMsgId: string): ServerFrameOf<'message.sent'> => ({ type: 'message.sent', clientMsgId, conversationId: 'c', messageId: 'm', seq: 1, sentAt: 'now' });

beforeEach(() => {
  vi.useFakeTimers();
  written = [];
  online = true;
});
afterEach(() => vi.useRealTimers());

describe('request → answer map', () => {
  it('types each request with the frame that answers it', () => {
    expectTypeOf<AnswerOf<'conversation.create'>>().toEqualTypeOf<ServerFrameOf<'conversation.created'>>();
    expectTypeOf<AnswerOf<'message.forward'>>().toEqualTypeOf<ServerFrameOf<'message.sent'>>();
    expectTypeOf<AnswerOf<'sync'>>().toEqualTypeOf<ServerFrameOf<'sync.batch'> | ServerFrameOf<'sync.reset'>>();
    expectTypeOf<AnswerOf<'ping'>>().toEqualTypeOf<ServerFrameOf<'pong'>>();
    expectTypeOf<AnswerOf<'presence.subscribe'>>().toEqualTypeOf<ServerFrameOf<'presence.snapshot'>>();
    expectTypeOf<AnsweredBy<'conversation.updated'>>().toEqualTypeOf<
      'conversation.members.add' | 'conversation.members.remove' | 'conversation.leave' | 'conversation.role.set' | 'conversation.update'
    >();
    // Receipts and typing are not answered: there is nothing to wait for.
    expectTypeOf<Exclude<ClientFrame['type'], RequestType>>().toEqualTypeOf<'message.delivered' | 'message.read' | 'typing'>();
  });
});

describe('Requests', () => {
  it('writes the frame and resolves with the answer of the same ref or clientMsgId', async () => {
    const r = requests();
    const ping = r.request({ type: 'ping', ref: 'p1' });
    const send = r.request({ type: 'message.send', clientMsgId: 'k1', conversationId: 'c', body: { text: 'hi' } });
    expect(written.map((f) => f.type)).toEqual(['ping', 'message.send']);
    expect(r.resolve({ type: 'pong', ref: 'other' })).toBe(false);
    expect(r.resolve(sent('k1'))).toBe(true);
    expect(r.resolve({ type: 'pong', ref: 'p1' })).toBe(true);
    await expect(ping).resolves.toEqual({ type: 'pong', ref: 'p1' });
    await expect(send).resolves.toEqual(sent('k1'));
    expect(r.resolve({ type: 'pong', ref: 'p1' })).toBe(false); // answered once
  });

  it('rejects with the code of the error frame that answers it', async () => {
    const r = requests();
    const send = r.request({ type: 'message.send', clientMsgId: 'k1', conversationId: 'c', body: { text: 'hi' } });
    expect(r.reject({ type: 'error', code: 'bad_request', message: 'no', ref: 'nobody' })).toBe(false);
    expect(r.reject({ type: 'error', code: 'rate_limited', message: 'slow down', clientMsgId: 'k1', retryAfterMs: 500 })).toBe(true);
    await expect(send).rejects.toMatchObject({ code: 'rate_limited', message: 'slow down', retryAfterMs: 500 });
  });

  it('times out as unavailable, and a late answer resolves nothing', async () => {
    const r = requests();
    const ping = r.request({ type: 'ping', ref: 'p1' }, { timeoutMs: 200 });
    const failed = expect(ping).rejects.toMatchObject({ code: 'unavailable', message: 'ping timed out' });
    await vi.advanceTimersByTimeAsync(200);
    await failed;
    expect(r.resolve({ type: 'pong', ref: 'p1' })).toBe(false);
  });

  it('offline: fails at once, unless asked to wait for the outbox to write it', async () => {
    const r = requests();
    online = false;
    await expect(r.request({ type: 'ping', ref: 'p1' })).rejects.toMatchObject({ code: 'unavailable', message: 'not connected' });
    const queued = r.request({ type: 'message.send', clientMsgId: 'k1', conversationId: 'c', body: { text: 'hi' } }, { queueWhenOffline: true });
    expect(written).toEqual([]);
    expect(r.resolve(sent('k1'))).toBe(true);
    await expect(queued).resolves.toMatchObject({ clientMsgId: 'k1' });
  });

  it('failAll rejects every waiting request but those it is told to keep', async () => {
    const r = requests();
    const a = r.request({ type: 'ping', ref: 'a' });
    const b = r.request({ type: 'ping', ref: 'b' });
    r.failAll(() => new ChatError('unavailable', 'connection closed (1006)'), (id) => id === 'b');
    await expect(a).rejects.toMatchObject({ code: 'unavailable', message: 'connection closed (1006)' });
    expect(r.resolve({ type: 'pong', ref: 'b' })).toBe(true);
    await expect(b).resolves.toMatchObject({ ref: 'b' });
  });
});
