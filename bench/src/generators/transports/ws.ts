import type WebSocket from 'ws';

/** Closes a load client's socket politely, and for good if the server has not answered the close within 2 s. */
function closeSocket(ws: WebSocket): Promise<void> {
  return new Promise((r) => {
    ws.once('close', () => r());
    ws.close(1000, 'bye');
    setTimeout(() => {
      ws.terminate();
      r();
    }, 2_000).unref();
  });
}

/** Fails every request still waiting when the socket closed. */
function failPending(pending: Map<string, { reject: (e: Error) => void; timer: NodeJS.Timeout }>, code: number): void {
  for (const [id, p] of pending) {
    clearTimeout(p.timer);
    p.reject(new Error(`closed (${code})`));
    pending.delete(id);
  }
}

/**
 * A load client's WebSocket with JSON frames and requests awaiting their answer: frames go to
 * `onFrame`; a close fails every request still waiting.
 */
export abstract class JsonSocketConn<F, P extends { reject: (e: Error) => void; timer: NodeJS.Timeout }> {
  protected readonly pending = new Map<string, P>();
  protected closed = false;

  protected constructor(
    protected readonly ws: WebSocket,
    protected readonly timeoutMs: number,
  ) {
    ws.on('message', (data) => this.onFrame(JSON.parse(String(data)) as F));
    ws.on('close', (code) => {
      this.closed = true;
      failPending(this.pending, code);
    });
  }

  protected abstract onFrame(frame: F): void;

  close(): Promise<void> {
    return this.closed ? Promise.resolve() : closeSocket(this.ws);
  }
}
