import type { Writable } from 'node:stream';

/**
 * Holds a socket's writes until the current tick ends, so that the frames one piece of work
 * sends to one connection (a batch of presence changes, of routed messages, of command
 * replies) leave in one `writev` instead of one system call each. On loopback and on a busy
 * edge the call, not the bytes, is what a frame costs (docs/performance.md). Order is kept, and
 * nothing waits past the tick: the sockets are uncorked together in one `process.nextTick`.
 */
export class TickCork {
  private corked = new Set<Writable>();

  /** Corks the socket until the end of this tick (once per tick however often it is called). */
  hold(socket: Writable): void {
    if (this.corked.has(socket)) return;
    socket.cork();
    this.corked.add(socket);
    if (this.corked.size === 1) process.nextTick(release, this);
  }

  /** Uncorks every socket held in this tick. */
  release(): void {
    const sockets = this.corked;
    this.corked = new Set();
    for (const s of sockets) s.uncork();
  }
}

function release(c: TickCork): void {
  c.release();
}
