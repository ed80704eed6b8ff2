import { ChatError, type ClientFrame, type ServerFrame, type ServerFrameOf } from '@chat/contracts';

/** The subset of the WebSocket API the client uses (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export type ReconnectOption = boolean | { initialDelayMs?: number; maxDelayMs?: number };
type Backoff = { initialDelayMs: number; maxDelayMs: number };

export interface ConnectionOptions {
  url: string | string[];
  token: string;
  createSocket?: WebSocketFactory;
  /** How long connect() waits for `hello`. */
  connectTimeoutMs: number;
  reconnect?: ReconnectOption;
}

export interface ConnectionHandlers {
  /** After each `hello`: `reconnected` from the second on, with the attempts it took. */
  open(hello: ServerFrameOf<'hello'>, o: { reconnected: boolean; attempt: number }): void;
  /** Every frame but `hello`. */
  frame(frame: ServerFrame): void;
  /** A frame before `hello` on a reconnect: true if taken, else it goes to `frame`. */
  early(frame: ServerFrame): boolean;
  close(ev: { code: number; reason: string }): void;
  reconnecting(ev: { attempt: number; delayMs: number }): void;
}

/** Reconnect delays, or null without reconnects (default 1 s doubling to 30 s). */
export function backoffOf(r: ReconnectOption | undefined): Backoff | null {
  if (!r) return null;
  return { initialDelayMs: (r === true ? undefined : r.initialDelayMs) ?? 1_000, maxDelayMs: (r === true ? undefined : r.maxDelayMs) ?? 30_000 };
}

/** Equal jitter: half the exponential step, plus up to the other half at random. */
export function reconnectDelay(b: Backoff, attempt: number, random = Math.random()): number {
  const step = Math.min(b.maxDelayMs, b.initialDelayMs * 2 ** attempt);
  return Math.round(step / 2 + random * (step / 2));
}

/** The URL to open: the token, and group receipts as one `receipt.batch` per window (emitted as `receipts`). */
export function socketUrl(url: string, token: string): string {
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}access_token=${encodeURIComponent(token)}&features=receipt.batch`;
}

/**
 * One WebSocket at a time to an edge: `hello` first, then frames. With `reconnect`, an
 * unexpected close is followed by another attempt (to the next URL) after a jittered backoff.
 */
export class Connection {
  private ws?: WebSocketLike;
  private readonly backoff: Backoff | null;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private attempt = 0;
  private closedByUser = false;
  /** Which of the URLs the next connection uses. */
  private urlIndex = 0;
  /** Set by the first `hello`: any later one is a reconnect. */
  private wasOpen = false;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly on: ConnectionHandlers,
  ) {
    this.backoff = backoffOf(opts.reconnect);
  }

  get connected(): boolean {
    return this.ws?.readyState === 1;
  }

  /** Whether an unexpected close is followed by a reconnect. */
  get reconnects(): boolean {
    return this.backoff !== null;
  }

  connect(): Promise<ServerFrameOf<'hello'>> {
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    const factory =
      this.opts.createSocket ??
      ((u: string) => {
        const WS = (globalThis as { WebSocket?: new (u: string) => WebSocketLike }).WebSocket;
        if (!WS) throw new Error('no global WebSocket: pass createSocket');
        return new WS(u);
      });
    const urls = typeof this.opts.url === 'string' ? [this.opts.url] : this.opts.url;
    const ws = factory(socketUrl(urls[this.urlIndex % urls.length]!, this.opts.token));
    this.ws = ws;
    let greeted = false;
    let deferred: ServerFrame[] | undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ChatError('unavailable', 'connect timed out'));
        ws.close(4000, 'connect timed out');
      }, this.opts.connectTimeoutMs);
      ws.onmessage = (ev) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse(String(ev.data)) as ServerFrame;
        } catch {
          return; // not from a chat edge; nothing to do with it
        }
        if (deferred) {
          deferred.push(frame);
          return;
        }
        if (frame.type === 'hello') {
          clearTimeout(timer);
          greeted = true;
          // Frames that arrive with `hello` (in the same read) are handled on the next turn,
          // after the code awaiting connect() has run and attached its listeners.
          const queue: ServerFrame[] = (deferred = []);
          setTimeout(() => {
            deferred = undefined;
            for (const f of queue) if (this.ws === ws) this.on.frame(f);
          }, 0);
          this.opened(frame);
          resolve(frame);
          return;
        }
        // Before `hello` on a reconnect (edges send none, but be safe).
        if (!greeted && this.wasOpen && this.on.early(frame)) return;
        this.on.frame(frame);
      };
      ws.onerror = () => undefined;
      ws.onclose = (ev) => {
        clearTimeout(timer);
        reject(new ChatError('unavailable', `connection closed (${ev.code})`));
        if (this.ws !== ws) return; // an older socket
        this.on.close({ code: ev.code, reason: ev.reason });
        if (!this.closedByUser && this.backoff) this.scheduleReconnect(this.backoff);
      };
    });
  }

  private opened(hello: ServerFrameOf<'hello'>): void {
    const reconnected = this.wasOpen;
    const attempt = this.attempt;
    this.attempt = 0;
    this.wasOpen = true;
    this.on.open(hello, { reconnected, attempt });
  }

  private scheduleReconnect(b: Backoff): void {
    const delayMs = reconnectDelay(b, this.attempt);
    this.attempt++;
    this.urlIndex++;
    this.on.reconnecting({ attempt: this.attempt, delayMs });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.connect().catch(() => undefined); // a failed attempt closes, and its close schedules the next
    }, delayMs);
  }

  /** Closes for good: no reconnect. */
  close(code: number, reason: string): void {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    this.ws?.close(code, reason);
  }

  /** Closes as a network failure would; reconnects if enabled. */
  drop(): void {
    this.ws?.close(4000, 'dropped by the client');
  }

  /** Writes a frame; throws when not connected. */
  write(frame: ClientFrame): void {
    if (!this.ws || this.ws.readyState !== 1) throw new ChatError('unavailable', 'not connected');
    this.ws.send(JSON.stringify(frame));
  }

  /** Writes text as it is to the current socket, open or not. */
  send(data: string): void {
    if (!this.ws) throw new ChatError('unavailable', 'not connected');
    this.ws.send(data);
  }
}
