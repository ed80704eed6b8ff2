import type { ServerFrame } from '@chat/contracts';

/** What a session needs from its transport; a socket in production, an array in unit tests. */
export interface Outbound {
  /**
   * `frame` may be pre-serialised JSON, as a string or already UTF-8 encoded (a Buffer: fan-out
   * and sync encode once for many sockets; it is sent as a text frame all the same).
   */
  send(frame: ServerFrame | string | Buffer, type: ServerFrame['type']): void;
  close(code: number, reason: string): void;
}
