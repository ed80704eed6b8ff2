import { LIMITS } from '@chat/contracts';

/** A `start` without another within this long has ended (docs/protocol.md, Typing). */
export const TYPING_TTL_MS = LIMITS.typingExpiresMs;
/** While the user types, `start` is sent again this often (the edge forwards one per 3 s). */
export const TYPING_RESEND_MS = 4_000;

/** Who is typing where, from `typing` frames; a `start` expires by itself. */
export class TypingState {
  private readonly until = new Map<string, Map<string, number>>();

  apply(f: { conversationId: string; userId: string; state: 'start' | 'stop' }, now: number): void {
    let users = this.until.get(f.conversationId);
    if (f.state === 'stop') {
      users?.delete(f.userId);
      return;
    }
    if (!users) this.until.set(f.conversationId, (users = new Map()));
    users.set(f.userId, now + TYPING_TTL_MS);
  }

  /** A message from the user ends their typing. */
  stop(conversationId: string, userId: string): void {
    this.until.get(conversationId)?.delete(userId);
  }

  /** Who is typing in a conversation now, sorted. */
  who(conversationId: string, now: number): string[] {
    const users = this.until.get(conversationId);
    if (!users) return [];
    return [...users].filter(([, until]) => until > now).map(([u]) => u).sort();
  }

  /** When the next `start` expires (to show its end), or null. */
  nextExpiry(now: number): number | null {
    let next: number | null = null;
    for (const users of this.until.values()) for (const until of users.values()) if (until > now && (next === null || until < next)) next = until;
    return next;
  }
}

export function typingText(users: readonly string[]): string {
  if (users.length === 0) return '';
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users.length} people are typing…`;
}

/**
 * How long after a forwarded `start` the edge drops the next one (LIMITS.typingIntervalMs),
 * with a margin for the time the frames take.
 */
export const TYPING_EDGE_INTERVAL_MS = LIMITS.typingIntervalMs + 150;

/**
 * Decides when the composer sends `start` and `stop`: `start` when the user begins typing (but
 * not before the edge would forward it: a `start` within 3 s of the previous one is dropped,
 * so typing again right after a send waits for that), again every 4 s while typing, and `stop`
 * when the draft empties or is sent.
 */
export class TypingSender {
  private lastStart = -Infinity;
  private active = false;
  /** A `start` went out since the user began typing this time. */
  private announced = false;

  /** After each edit of the draft: 'start', 'stop' or nothing to send now. */
  input(draftEmpty: boolean, now: number): 'start' | 'stop' | null {
    if (draftEmpty) return this.stopped();
    this.active = true;
    const gap = this.announced ? TYPING_RESEND_MS : TYPING_EDGE_INTERVAL_MS;
    if (now - this.lastStart < gap) return null;
    this.lastStart = now;
    this.announced = true;
    return 'start';
  }

  /** While typing and not announced yet: how long until a `start` would go through (call input then). */
  waitMs(now: number): number | null {
    if (!this.active || this.announced) return null;
    return Math.max(0, this.lastStart + TYPING_EDGE_INTERVAL_MS - now);
  }

  /** On send or leaving the conversation: 'stop' if a `start` went out. */
  stopped(): 'stop' | null {
    if (!this.active) return null;
    this.active = false;
    const announced = this.announced;
    this.announced = false;
    return announced ? 'stop' : null;
  }
}
