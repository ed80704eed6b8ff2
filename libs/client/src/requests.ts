import { ChatError, type ClientFrame, type ClientFrameOf, type ServerFrame, type ServerFrameOf } from '@chat/contracts';

/**
 * The server frame that answers each client frame (docs/protocol.md, "Client → server");
 * `never`: no answer. Every client frame type must be listed.
 */
type AnswerTypes = Answers<{
  'conversation.create': 'conversation.created';
  'message.send': 'message.sent';
  'message.forward': 'message.sent';
  'message.edit': 'message.edited';
  'message.delete': 'message.deleted';
  'conversation.members.add': 'conversation.updated';
  'conversation.members.remove': 'conversation.updated';
  'conversation.leave': 'conversation.updated';
  'conversation.role.set': 'conversation.updated';
  'conversation.update': 'conversation.updated';
  'conversation.mute': 'conversation.muted';
  sync: 'sync.batch' | 'sync.reset';
  ping: 'pong';
  'presence.subscribe': 'presence.snapshot';
  'message.delivered': never;
  'message.read': never;
  typing: never;
}>;
type Answers<T extends Record<ClientFrame['type'], ServerFrame['type']>> = T;

/** Client frame types the server answers. */
export type RequestType = { [T in ClientFrame['type']]: [AnswerTypes[T]] extends [never] ? never : T }[ClientFrame['type']];
/** The frame that answers a client frame of type `T`. */
export type AnswerOf<T extends RequestType> = ServerFrameOf<AnswerTypes[T]>;
/** Request types answered by a server frame of type `A`. */
export type AnsweredBy<A extends ServerFrame['type']> = { [T in RequestType]: AnswerTypes[T] extends A ? T : never }[RequestType];
/** A request as sent: with the `clientMsgId` or `ref` its answer carries. */
export type RequestFrame = ClientFrameOf<RequestType> extends infer F ? (F extends { clientMsgId: string } ? F : F & { ref: string }) : never;

let counter = 0;
/** A correlation id (`ref` or `clientMsgId`), unique within this page or process. */
export const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(++counter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

type Waiter = { resolve: (f: ServerFrame) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

export interface RequestsDeps {
  /** Writes a frame; throws when not connected. */
  write(frame: ClientFrame): void;
  connected(): boolean;
  timeoutMs: number;
}

/** Requests waiting for their answer, correlated by `ref` or `clientMsgId`. */
export class Requests {
  private readonly waiters = new Map<string, Waiter>();

  constructor(private readonly deps: RequestsDeps) {}

  /**
   * Sends a frame and resolves with its answer, or rejects with the `error` frame that answers
   * it, on timeout, or when the frame cannot be written. With `queueWhenOffline` and no
   * connection it only waits: the outbox writes it on the next `hello`.
   */
  request<F extends RequestFrame>(frame: F, o: { timeoutMs?: number; queueWhenOffline?: boolean } = {}): Promise<AnswerOf<F['type']>> {
    const id = 'clientMsgId' in frame ? frame.clientMsgId : frame.ref;
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new ChatError('unavailable', `${frame.type} timed out`));
      }, o.timeoutMs ?? this.deps.timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
      if (o.queueWhenOffline && !this.deps.connected()) return;
      try {
        this.deps.write(frame);
      } catch (e) {
        clearTimeout(timer);
        this.waiters.delete(id);
        reject(e as Error);
      }
    }) as Promise<AnswerOf<F['type']>>;
  }

  /** Resolves the request this frame answers (by `ref` or `clientMsgId`), if any. */
  resolve(frame: ServerFrame): boolean {
    const id = 'ref' in frame && frame.ref ? frame.ref : 'clientMsgId' in frame ? frame.clientMsgId : undefined;
    const w = this.take(id);
    w?.resolve(frame);
    return w !== undefined;
  }

  /** Rejects the request an `error` frame answers, if any. */
  reject(frame: ServerFrameOf<'error'>): boolean {
    const w = this.take(frame.ref ?? frame.clientMsgId);
    w?.reject(new ChatError(frame.code, frame.message, frame.retryAfterMs !== undefined ? { retryAfterMs: frame.retryAfterMs } : undefined));
    return w !== undefined;
  }

  /** Rejects every waiting request, except those `keep` spares. */
  failAll(error: () => Error, keep: (id: string) => boolean = () => false): void {
    for (const id of [...this.waiters.keys()]) if (!keep(id)) this.take(id)!.reject(error());
  }

  private take(id: string | undefined): Waiter | undefined {
    const w = id ? this.waiters.get(id) : undefined;
    if (!w || !id) return undefined;
    this.waiters.delete(id);
    clearTimeout(w.timer);
    return w;
  }
}
