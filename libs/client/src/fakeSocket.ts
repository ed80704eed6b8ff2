import type { ClientFrame, ServerFrame, ServerFrameOf } from '@chat/contracts';
import type { WebSocketLike } from './connection';

/** A scripted socket for unit tests: the test plays the server. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: ClientFrame[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(readonly url = '') {}
  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientFrame);
  }
  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  serve(frame: ServerFrame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  hello(): void {
    this.readyState = 1;
    this.serve({ type: 'hello', userId: 'u', deviceId: 'd', edgeId: 'e', serverTime: new Date().toISOString() });
  }
  /** What the edge does with a refused or expired token: an `unauthorized` error, then close 4401. */
  refuseToken(message = 'token expired'): void {
    this.readyState = 1;
    this.serve({ type: 'error', code: 'unauthorized', message });
    this.close(4401, message);
  }
  ofType<T extends ClientFrame['type']>(type: T): Array<Extract<ClientFrame, { type: T }>> {
    return this.sent.filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type);
  }
}

/** A `message.new` frame of another user; its cursor defaults to one per seq. */
export const messageNew = (conversationId: string, seq: number, cursor = `c1_${seq}`): ServerFrameOf<'message.new'> => ({
  type: 'message.new',
  conversationId,
  messageId: `${conversationId}-${seq}`,
  seq,
  senderId: 'other',
  body: { text: `m${seq}` },
  sentAt: new Date(0).toISOString(),
  cursor,
});
