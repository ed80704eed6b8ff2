import type { ClientFrame } from '@chat/contracts';

/**
 * Mutating frames not answered yet, by correlation id: written again, as they were, after every
 * `hello`. The server stores a frame it sees twice once (same `clientMsgId`).
 */
export class Outbox {
  private readonly frames = new Map<string, ClientFrame>();

  /** Keeps `frame` while `run` (its request) is pending. */
  async track<T>(id: string, frame: ClientFrame, run: () => Promise<T>): Promise<T> {
    this.frames.set(id, frame);
    try {
      return await run();
    } finally {
      this.frames.delete(id);
    }
  }

  has(id: string): boolean {
    return this.frames.has(id);
  }

  get size(): number {
    return this.frames.size;
  }

  /** Writes every frame in the order it was added; returns how many. */
  resend(write: (frame: ClientFrame) => void): number {
    for (const frame of this.frames.values()) write(frame);
    return this.frames.size;
  }

  clear(): void {
    this.frames.clear();
  }
}
