/** Which (conversationId, seq) pairs this client has seen, and whether a live message follows a hole. */
export class SeenMessages {
  private readonly seen = new Map<string, Set<number>>();
  /** Per conversation, the highest seq up to which every seq (from the first received) was seen: gap detection. */
  private readonly contiguous = new Map<string, number>();
  /** Gaps already repaired once, as `${conversationId}\u0000${seq}`. */
  private readonly gapTried = new Set<string>();

  /** Records (conversationId, seq); false if it was already seen. */
  markSeen(conversationId: string, seq: number, own = false): boolean {
    let s = this.seen.get(conversationId);
    if (!s) this.seen.set(conversationId, (s = new Set()));
    if (s.has(seq)) return false;
    s.add(seq);
    // The first message received starts the run; an own send only extends one (or starts it
    // at seq 1, which has no predecessors).
    let run = this.contiguous.get(conversationId);
    if (run === undefined) {
      if (own && seq !== 1) return true;
      run = seq;
    }
    while (s.has(run + 1)) run++;
    this.contiguous.set(conversationId, run);
    return true;
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
    if (s?.has(f.seq)) return false;
    const contiguous = s && s.size > 0 ? this.contiguous.get(f.conversationId) : 0;
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
