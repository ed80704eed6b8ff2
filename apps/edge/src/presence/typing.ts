import { ChatError, LIMITS } from '@chat/contracts';

/** A typing signal between edges (core NATS, `chat.typing.<edgeId>`): for the listed users' devices on that edge. */
export interface TypingSignal {
  conversationId: string;
  userId: string;
  state: 'start' | 'stop';
  to: string[];
}

export interface TypingRelayDeps {
  memberIds(conversationId: string): Promise<string[]>;
  /** Users on either side of a block with the sender: they get none of each other's typing. */
  blockedEitherWay(userId: string): Promise<Set<string>>;
  /** The users' live devices grouped by edge (the connection registry). */
  usersByEdge(userIds: readonly string[]): Promise<Map<string, string[]>>;
  publish(edgeId: string, signal: TypingSignal): void;
  now(): number;
  /** A signal not forwarded, and why (metrics). */
  onDropped(reason: 'throttled' | 'large_group'): void;
  intervalMs?: number;
  maxMembers?: number;
}

/** Members are read again after this long (typing is frequent; membership changes are rare). */
const MEMBERS_TTL_MS = 2_000;
const MAX_CACHED = 10_000;

/**
 * Typing signals: from a member to the other members' connected devices, over core NATS (best
 * effort by design: not stored, not retried, never in sync). At most one `start` per user and
 * conversation per `intervalMs` (3 s) is forwarded — a client typing for longer sends `start`
 * again every 4 s — and none in conversations of more than `maxMembers` (20). The throttle is
 * per edge: a user typing on two devices on two edges may get two through.
 */
export class TypingRelay {
  private readonly lastStart = new Map<string, number>();
  private readonly members = new Map<string, { ids: string[]; at: number }>();
  private readonly intervalMs: number;
  private readonly maxMembers: number;

  constructor(private readonly deps: TypingRelayDeps) {
    this.intervalMs = deps.intervalMs ?? LIMITS.typingIntervalMs;
    this.maxMembers = deps.maxMembers ?? LIMITS.typingMaxMembers;
  }

  /** Forwards a member's signal; a non-member gets `forbidden`. Returns whether it went out. */
  async relay(userId: string, conversationId: string, state: 'start' | 'stop'): Promise<boolean> {
    let members = await this.membersOf(conversationId);
    // Just added? The cached list may predate it.
    if (!members.includes(userId)) members = await this.membersOf(conversationId, true);
    if (!members.includes(userId)) throw new ChatError('forbidden', 'not a member of this conversation');
    if (members.length > this.maxMembers) {
      this.deps.onDropped('large_group');
      return false;
    }
    const key = `${userId}\u0000${conversationId}`;
    const now = this.deps.now();
    if (state === 'start') {
      const last = this.lastStart.get(key);
      if (last !== undefined && now - last < this.intervalMs) {
        this.deps.onDropped('throttled');
        return false;
      }
      this.lastStart.set(key, now);
      if (this.lastStart.size > MAX_CACHED) this.prune(now);
    }
    const blocked = await this.deps.blockedEitherWay(userId);
    const others = members.filter((m) => m !== userId && !blocked.has(m));
    for (const [edgeId, to] of await this.deps.usersByEdge(others)) this.deps.publish(edgeId, { conversationId, userId, state, to });
    return true;
  }

  private async membersOf(conversationId: string, fresh = false): Promise<string[]> {
    const now = this.deps.now();
    const cached = this.members.get(conversationId);
    if (cached && !fresh && now - cached.at < MEMBERS_TTL_MS) return cached.ids;
    const ids = await this.deps.memberIds(conversationId);
    if (this.members.size >= MAX_CACHED) this.members.clear();
    this.members.set(conversationId, { ids, at: now });
    return ids;
  }

  private prune(now: number): void {
    for (const [k, t] of this.lastStart) if (now - t >= this.intervalMs) this.lastStart.delete(k);
  }
}
