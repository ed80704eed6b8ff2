import { ChatError, CLOSE_CODES, type ClientFrame, type ServerFrame, type ServerFrameOf } from '@chat/contracts';

/** An event handler checked bivariantly, so the DOM's and `ws`'s richer event types both fit. */
type Handler<E> = { bivarianceHack(ev: E): void }['bivarianceHack'];

/** The subset of the WebSocket API the client uses (the browser's WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export type ReconnectOption = boolean | { initialDelayMs?: number; maxDelayMs?: number };
type Backoff = { initialDelayMs: number; maxDelayMs: number };

/** What the connection is doing: `connecting` covers the waits between reconnect attempts too. */
export type SocketState = 'disconnected' | 'connecting' | 'connected';

export interface ConnectionOptions {
  url: string | string[];
  /** The token for the next connection; called before every attempt. */
  getToken: () => string | Promise<string>;
  /** Whether getToken may return a new token (a callback, not a fixed string): one retry after an auth refusal. */
  refreshable?: boolean;
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
  state?(state: SocketState): void;
  /** The edge refused the token and no retry follows: a new token is needed, then connect(). */
  unauthorized?(error: ChatError): void;
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

/**
 * The URL to open: the token, group receipts as one `receipt.batch` per window (emitted as
 * `receipts`) and presence changes heard together as one `presence.batch` (emitted as one
 * `presence` per user).
 */
export function socketUrl(url: string, token: string): string {
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}access_token=${encodeURIComponent(token)}&features=receipt.batch,presence.batch`;
}

const noop = () => undefined;

/**
 * One WebSocket at a time to an edge: `hello` first, then frames. With `reconnect`, an
 * unexpected close is followed by another attempt (to the next URL) after a jittered backoff.
 * A token the edge refuses (close 4401) is not retried as it is: a refreshable token is asked
 * for once more and tried at once; a second refusal in a row, or a fixed token, stops.
 */
export class Connection {
  private ws?: WebSocketLike;
  private readonly backoff: Backoff | null;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private attempt = 0;
  private closedByUser = false;
  /** Stopped by a refused token: only connect() starts again. */
  private stopped = false;
  /** Refusals of the token since the last `hello`. */
  private authFailures = 0;
  /** Which of the URLs the next connection uses. */
  private urlIndex = 0;
  /** Set by the first `hello`: any later one is a reconnect. */
  private wasOpen = false;
  /** Bumped by close(): a token still being fetched for an older attempt is not used. */
  private generation = 0;
  private current: SocketState = 'disconnected';

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly on: ConnectionHandlers,
  ) {
    this.backoff = backoffOf(opts.reconnect);
  }

  get connected(): boolean {
    return this.ws?.readyState === 1;
  }

  get state(): SocketState {
    return this.current;
  }

  /** Whether an unexpected close is followed by a reconnect. */
  get reconnects(): boolean {
    return this.backoff !== null;
  }

  connect(): Promise<ServerFrameOf<'hello'>> {
    this.closedByUser = false;
    this.stopped = false;
    clearTimeout(this.reconnectTimer);
    this.setState('connecting');
    const generation = this.generation;
    let token: string | Promise<string>;
    try {
      token = this.opts.getToken();
    } catch (e) {
      return this.tokenFailed(e);
    }
    // A plain string opens the socket in this turn (as a fixed token always did).
    if (typeof token === 'string') return this.open(token);
    if (!token || typeof (token as Promise<string>).then !== 'function') return this.tokenFailed(new TypeError('getToken must return a string or a promise of one'));
    return token.then(
      (t) => {
        if (generation !== this.generation || this.closedByUser) throw new ChatError('unavailable', 'connect cancelled by close()');
        if (typeof t !== 'string') throw new TypeError(`getToken must return a string, not ${t === null ? 'null' : typeof t}`);
        return this.open(t);
      },
      (e: unknown) => this.tokenFailed(e),
    );
  }

  /** getToken threw: a failed attempt like a refused connection (the token service may be down). */
  private tokenFailed(e: unknown): Promise<never> {
    const err = e instanceof TypeError ? e : new ChatError('unavailable', `getToken failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    if (!this.closedByUser && this.backoff && !(e instanceof TypeError)) this.scheduleReconnect(this.backoff);
    else this.setState('disconnected');
    return Promise.reject(err);
  }

  private open(token: string): Promise<ServerFrameOf<'hello'>> {
    const factory =
      this.opts.createSocket ??
      ((u: string) => {
        const WS = (globalThis as { WebSocket?: new (u: string) => WebSocketLike }).WebSocket;
        if (!WS) throw new TypeError('no global WebSocket here (Node 20): pass createSocket, e.g. (url) => new WebSocket(url) with WebSocket from "ws"');
        return new WS(u);
      });
    const urls = typeof this.opts.url === 'string' ? [this.opts.url] : this.opts.url;
    let ws: WebSocketLike;
    try {
      ws = factory(socketUrl(urls[this.urlIndex % urls.length]!, token));
    } catch (e) {
      this.setState('disconnected');
      return Promise.reject(e);
    }
    this.ws = ws;
    let greeted = false;
    let deferred: ServerFrame[] | undefined;
    /** The `unauthorized` error frame the edge sends before closing with 4401. */
    let refusal: ServerFrameOf<'error'> | undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ChatError('unavailable', 'connect timed out'));
        ws.close(4000, 'connect timed out');
      }, this.opts.connectTimeoutMs);
      ws.onmessage = (ev: { data: unknown }) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse(String(ev.data)) as ServerFrame;
        } catch {
          return; // not from a chat edge; nothing to do with it
        }
        if (frame.type === 'error' && frame.code === 'unauthorized' && !frame.ref && !frame.clientMsgId) {
          refusal = frame; // the close (4401) that follows decides
          return;
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
      ws.onerror = noop;
      ws.onclose = (ev: { code: number; reason: string }) => {
        clearTimeout(timer);
        const auth = ev.code === CLOSE_CODES.unauthorized;
        const error = auth ? new ChatError('unauthorized', refusal?.message ?? (ev.reason || 'token refused')) : new ChatError('unavailable', `connection closed (${ev.code})`);
        reject(error);
        if (this.ws !== ws) return; // an older socket
        this.on.close({ code: ev.code, reason: ev.reason });
        if (this.closedByUser) return this.setState('disconnected');
        if (auth) return this.authRefused(error);
        if (this.backoff) this.scheduleReconnect(this.backoff);
        else this.setState('disconnected');
      };
    });
  }

  private opened(hello: ServerFrameOf<'hello'>): void {
    const reconnected = this.wasOpen;
    const attempt = this.attempt;
    this.attempt = 0;
    this.authFailures = 0;
    this.wasOpen = true;
    this.on.open(hello, { reconnected, attempt });
    this.setState('connected');
  }

  /** The edge refused the token (at the upgrade, or when it expired on a live connection). */
  private authRefused(error: ChatError): void {
    this.authFailures++;
    if (this.backoff && this.opts.refreshable && this.authFailures === 1) {
      // Ask for a token again and try it now: an expired one is usually just replaced.
      this.attempt++;
      this.setState('connecting');
      this.on.reconnecting({ attempt: this.attempt, delayMs: 0 });
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this.connect().catch(noop), 0);
      return;
    }
    this.stopped = true;
    this.setState('disconnected');
    this.on.unauthorized?.(error);
  }

  private scheduleReconnect(b: Backoff): void {
    const delayMs = reconnectDelay(b, this.attempt);
    this.attempt++;
    this.urlIndex++;
    this.setState('connecting');
    this.on.reconnecting({ attempt: this.attempt, delayMs });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.connect().catch(noop); // a failed attempt closes, and its close schedules the next
    }, delayMs);
  }

  /**
   * The network is back (the browser's `online`): try now instead of waiting out the backoff.
   * Nothing happens while connected, while an attempt is under way, after close(), or after a
   * refused token.
   */
  reconnectNow(): void {
    if (!this.backoff || this.closedByUser || this.stopped || !this.wasOpen) return;
    if (this.ws && (this.ws.readyState === 0 || this.ws.readyState === 1)) return;
    clearTimeout(this.reconnectTimer);
    this.connect().catch(noop);
  }

  /** Closes for good: no reconnect. */
  close(code: number, reason: string): void {
    this.closedByUser = true;
    this.generation++;
    clearTimeout(this.reconnectTimer);
    if (this.ws && this.ws.readyState < 2) this.ws.close(code, reason);
    this.setState('disconnected');
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

  private setState(s: SocketState): void {
    if (s === this.current) return;
    this.current = s;
    this.on.state?.(s);
  }
}
