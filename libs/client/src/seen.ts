/** The seqs of one conversation this client has seen. */
interface Seen {
  /** Every seq at or below it counts as seen: the window slid past it. */
  floor: number;
  seqs: Set<number>;
}

/** Seqs remembered per conversation by default; older ones count as seen. */
export const DEFAULT_SEEN_WINDOW = 2_048;

/**
 * Which (conversationId, seq) pairs this client has seen, and whether a live message follows a
 * hole. Memory stays bounded: per conversation it remembers the newest `window` seqs (seqs
 * arrive nearly in order), and everything older counts as seen.
 */
export class SeenMessages {
  private readonly seen = new Map<string, Seen>();
  /** Per conversation, the highest seq up to which every seq (from the first received) was seen: gap detection. */
  private readonly contiguous = new Map<string, number>();
  /** Gaps already repaired once, as `${conversationId}\u0000${seq}`. */
  private readonly gapTried = new Set<string>();

  constructor(private readonly window = DEFAULT_SEEN_WINDOW) {
    if (!Number.isInteger(window) || window < 1) throw new TypeError(`seen window must be a positive integer, not ${window}`);
  }

  /** Records (conversationId, seq); false if it was already seen. */
  markSeen(conversationId: string, seq: number, own = false): boolean {
    let s = this.seen.get(conversationId);
    if (!s) this.seen.set(conversationId, (s = { floor: 0, seqs: new Set() }));
    if (has(s, seq)) return false;
    s.seqs.add(seq);
    if (s.seqs.size > 2 * this.window) this.slide(s);
    // The first message received starts the run; an own send only extends one (or starts it
    // at seq 1, which has no predecessors).
    let run = this.contiguous.get(conversationId);
    if (run === undefined) {
      if (own && seq !== 1) return true;
      run = seq;
    }
    if (run < s.floor) run = s.floor; // every seq up to the floor counts as seen
    while (s.seqs.has(run + 1)) run++;
    this.contiguous.set(conversationId, run);
    return true;
  }

  /** How many seqs are remembered for a conversation (tests; memory checks). */
  remembered(conversationId: string): number {
    return this.seen.get(conversationId)?.seqs.size ?? 0;
  }

  /** Keeps the newest `window` seqs; the floor rises to the newest one dropped. Amortised: runs once per `window` additions. */
  private slide(s: Seen): void {
    const sorted = [...s.seqs].sort((a, b) => a - b);
    const drop = sorted.length - this.window;
    s.floor = Math.max(s.floor, sorted[drop - 1]!);
    for (let i = 0; i < drop; i++) s.seqs.delete(sorted[i]!);
  }

  /**
   * A live message with a hole before it: a seq between the contiguous run this client has
   * seen and this one is missing. In a conversation it has seen nothing of yet, anything after
   * seq 1 may follow a hole too (its first messages were routed while this device was away, or
   * to a route Redis lost): one sync decides, and if it brings nothing before it (the user
   * joined later), the run starts there. Own sends count as seen for de-duplication but not
   * here: they say nothing about the messages before them.
   */
  isAfterGap(f: { conversationId: string; seq: number }): boolean {
    const s = this.seen.get(f.conversationId);
    if (s && has(s, f.seq)) return false;
    const contiguous = s && (s.seqs.size > 0 || s.floor > 0) ? this.contiguous.get(f.conversationId) : 0;
    if (contiguous === undefined || f.seq <= contiguous + 1) return false;
    // Repaired once: a gap a sync does not fill is real (e.g. the user was not a member
    // then), so the run goes on from here.
    const key = `${f.conversationId}\u0000${f.seq}`;
    if (this.gapTried.has(key)) {
      this.contiguous.set(f.conversationId, f.seq - 1);
      return false;
    }
    if (this.gapTried.size > 10_000) this.gapTried.clear();
    this.gapTried.add(key);
    return true;
  }
}

const has = (s: Seen, seq: number) => seq <= s.floor || s.seqs.has(seq);
