/** One ordered run of items (an archive object), and the lowest seq it can hold. */
export interface SeqRun<T extends { seq: number }> {
  firstSeq: number;
  open(): AsyncIterable<T>;
}

/**
 * Merges runs that are each in ascending seq order into one ascending sequence with each seq
 * once (the first copy read wins: copies of one event are the same stored message). Runs are
 * opened lazily, only once the merge reaches their first seq, so overlapping runs are open
 * together and the others one after another.
 */
export async function* mergeBySeq<T extends { seq: number }>(runs: ReadonlyArray<SeqRun<T>>): AsyncGenerator<T> {
  const pending = [...runs].sort((a, b) => a.firstSeq - b.firstSeq);
  const open: Array<{ head: T; it: AsyncIterator<T> }> = [];
  let next = 0;
  let last = -Infinity;
  const advance = async (it: AsyncIterator<T>): Promise<void> => {
    const r = await it.next();
    if (!r.done) open.push({ head: r.value, it });
  };
  try {
    for (;;) {
      let min = open.reduce<number>((m, c) => Math.min(m, c.head.seq), Infinity);
      while (next < pending.length && pending[next]!.firstSeq <= min) {
        await advance(pending[next++]!.open()[Symbol.asyncIterator]());
        min = open.reduce<number>((m, c) => Math.min(m, c.head.seq), Infinity);
      }
      if (!open.length) return;
      const i = open.findIndex((c) => c.head.seq === min);
      const [cur] = open.splice(i, 1);
      if (cur!.head.seq > last) {
        last = cur!.head.seq;
        yield cur!.head;
      }
      await advance(cur!.it);
    }
  } finally {
    await Promise.all(open.map((c) => c.it.return?.()));
  }
}
