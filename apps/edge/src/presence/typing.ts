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
  /** This edge's id: signals for its own users are handed to `deliverHere`, not published to itself over NATS. */
  edgeId: string;
  /** Hands a signal to the listed users' devices on this edge (what the `chat.typing.<edgeId>` subscriber does). */
  deliverHere(signal: TypingSignal): void;
  now(): number;
  /** A signal not forwarded, and why (metrics). */
  onDropped(reason: 'throttled' | 'large_group'): void;
  intervalMs?: number;
  maxMembers?: number;
}

/**
 * Members are read again after this long; a membership change that passes through this edge
 * replaces them at once (`membersChanged`: every member connected here gets the
 * `conversation.updated` with the new member list, the typist among them, and it is routed
 * before the read model has it, so it is taken from the frame, not read again). Typing is
 * frequent, membership changes are rare, and a direct conversation's never change: with a 2-s
 * lifetime every resend of a typing signal (every 4 s) read the members from Postgres again.
 */
export const MEMBERS_TTL_MS = 60_000;

/** A conversation's members as cached; `framed`: taken from a `conversation.updated`, newer than the read model may be yet. */
interface MembersEntry {
  ids: string[];
  at: number;
  framed: boolean;
}
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
  private readonly members = new Map<string, MembersEntry>();
  private readonly intervalMs: number;
  private readonly maxMembers: number;

  constructor(private readonly deps: TypingRelayDeps) {
    this.intervalMs = deps.intervalMs ?? LIMITS.typingIntervalMs;
    this.maxMembers = deps.maxMembers ?? LIMITS.typingMaxMembers;
  }

  /** Forwards a member's signal; a non-member gets `forbidden`. Returns whether it went out. */
  async relay(userId: string, conversationId: string, state: 'start' | 'stop'): Promise<boolean> {
    const cached = await this.membersOf(conversationId);
    // Just added? A list read from the read model may predate it (one from a frame does not).
    const members = cached.ids.includes(userId) || cached.framed ? cached.ids : (await this.membersOf(conversationId, true)).ids;
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
    for (const [edgeId, to] of await this.deps.usersByEdge(others)) {
      const signal: TypingSignal = { conversationId, userId, state, to };
      if (edgeId === this.deps.edgeId) this.deps.deliverHere(signal);
      else this.deps.publish(edgeId, signal);
    }
    return true;
  }

  /** The conversation's members as a `conversation.updated` passing through this edge gives them. */
  membersChanged(conversationId: string, members: readonly string[]): void {
    this.remember(conversationId, { ids: [...members], at: this.deps.now(), framed: true });
  }

  private async membersOf(conversationId: string, fresh = false): Promise<MembersEntry> {
    const now = this.deps.now();
    const cached = this.members.get(conversationId);
    if (cached && !fresh && now - cached.at < MEMBERS_TTL_MS) return cached;
    const ids = await this.deps.memberIds(conversationId);
    // A frame that came while the read was out is newer than what was read.
    const meanwhile = this.members.get(conversationId);
    if (meanwhile?.framed && meanwhile !== cached) return meanwhile;
    return this.remember(conversationId, { ids, at: now, framed: false });
  }

  /** Caches a conversation's members (the cache is emptied when it holds MAX_CACHED). */
  private remember(conversationId: string, entry: MembersEntry): MembersEntry {
    if (this.members.size >= MAX_CACHED) this.members.clear();
    this.members.set(conversationId, entry);
    return entry;
  }

  private prune(now: number): void {
    for (const [k, t] of this.lastStart) if (now - t >= this.intervalMs) this.lastStart.delete(k);
  }
}
