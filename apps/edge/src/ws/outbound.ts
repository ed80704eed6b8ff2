import type { ServerFrame } from '@chat/contracts';

/** What a session needs from its transport; a socket in production, an array in unit tests. */
export interface Outbound {
  /** `frame` may be pre-serialised JSON (fan-out serialises once for many sockets). */
  send(frame: ServerFrame | string, type: ServerFrame['type']): void;
  close(code: number, reason: string): void;
}
