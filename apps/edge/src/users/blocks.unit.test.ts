import { describe, expect, it } from 'vitest';
import { directConversationId } from '../ws/session';
import { BlockDirectory, type BlockSource } from './blocks';

/** A source over a fixed relation (blocker → blocked), counting its statements and the users each read. */
function source(pairs: Array<[string, string]>) {
  const reads: string[][] = [];
  let down = false;
  const among = (keyOf: 0 | 1) => async (users: readonly string[]) => {
    if (down) throw new Error('Connection terminated unexpectedly');
    reads.push([...users]);
    const out = new Map<string, Set<string>>();
    for (const p of pairs) {
      const [k, v] = keyOf === 0 ? p : [p[1], p[0]];
      if (users.includes(k)) (out.get(k) ?? out.set(k, new Set()).get(k)!).add(v);
    }
    return out;
  };
  const s: BlockSource = { blockingAmong: among(0), blockedByAmong: among(1) };
  return { s, reads, setDown: (d: boolean) => (down = d) };
}

describe('BlockDirectory', () => {
  it('refuses a send into the direct conversation of a user who blocks the sender, not into others', async () => {
    const d = new BlockDirectory(source([['ann', 'bo']]).s, 5_000);
    await expect(d.checkSend('bo', directConversationId('ann', 'bo'))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(d.checkSend('bo', directConversationId('cy', 'bo'))).resolves.toBeUndefined();
    await expect(d.checkSend('bo', 'g-group')).resolves.toBeUndefined();
    await expect(d.checkCreateDirect('bo', 'ann')).rejects.toMatchObject({ code: 'forbidden' });
    expect([...(await d.either('ann'))]).toEqual(['bo']);
  });

  it('reads every user asked for in one event-loop turn with one statement', async () => {
    const src = source([['ann', 'bo']]);
    const d = new BlockDirectory(src.s, 5_000);
    const got = await Promise.all(['bo', 'cy', 'bo', 'dee'].map((u) => d.blockedBy(u)));
    expect(got.map((s) => [...s])).toEqual([['ann'], [], ['ann'], []]);
    expect(src.reads).toEqual([['bo', 'cy', 'dee']]);
    expect(d.stats).toMatchObject({ statements: 1, loaded: 3 });
  });

  it('serves an entry for its ttl, and loads it again once it expired unused', async () => {
    let clock = 0;
    const src = source([]);
    const d = new BlockDirectory(src.s, 5_000, () => clock);
    await d.blockedBy('bo');
    clock += 4_999;
    await d.blockedBy('bo');
    expect(src.reads).toHaveLength(1);
    clock += 1;
    await d.blockedBy('bo');
    expect(src.reads).toHaveLength(2);
  });

  it('refreshes the entries in use ahead of their expiry, in one statement, so a steady sender never waits and sees a new block within the ttl', async () => {
    let clock = 0;
    const pairs: Array<[string, string]> = [];
    const src = source(pairs);
    const d = new BlockDirectory(src.s, 4_000, () => clock);
    await Promise.all([d.blockedBy('bo'), d.blockedBy('cy'), d.blockedBy('idle')]);
    expect(src.reads).toHaveLength(1);
    // bo and cy keep sending; idle does not.
    clock = 1_000;
    await d.blockedBy('bo');
    await d.blockedBy('cy');
    await d.refresh(); // a quarter ttl: nothing is half its ttl old yet
    expect(src.reads).toHaveLength(1);
    pairs.push(['ann', 'bo']); // the projector stores a block
    clock = 2_000;
    await d.refresh();
    expect(src.reads).toEqual([['bo', 'cy', 'idle'], ['bo', 'cy']]);
    // Served from the refreshed entry: no statement on the send path, the block applies.
    clock = 4_500;
    await expect(d.checkSend('bo', directConversationId('ann', 'bo'))).rejects.toMatchObject({ code: 'forbidden' });
    expect(src.reads).toHaveLength(2);
    expect(d.stats).toMatchObject({ statements: 2, loaded: 3, refreshed: 2 });
    // idle expired unused: dropped, then read on demand when asked for again.
    await d.refresh();
    await d.blockedBy('idle');
    expect(src.reads.at(-1)).toEqual(['idle']);
  });

  it('keeps nothing with a ttl of 0: every turn reads', async () => {
    const src = source([]);
    const d = new BlockDirectory(src.s, 0);
    await d.blockedBy('bo');
    await d.blockedBy('bo');
    expect(src.reads).toEqual([['bo'], ['bo']]);
  });

  it('fails open: an unreachable read model lets the send through, reports it, and is asked again next time', async () => {
    const failures: unknown[] = [];
    const src = source([['ann', 'bo']]);
    src.setDown(true);
    const d = new BlockDirectory(src.s, 5_000, () => 0, (e) => failures.push(e));
    await expect(d.checkSend('bo', directConversationId('ann', 'bo'))).resolves.toBeUndefined();
    expect(failures).toHaveLength(1);
    src.setDown(false);
    await expect(d.checkSend('bo', directConversationId('ann', 'bo'))).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('a failed refresh keeps the entries until their ttl and reports it; past the ttl a sender waits for a load', async () => {
    let clock = 0;
    const failures: unknown[] = [];
    const src = source([]);
    const d = new BlockDirectory(src.s, 4_000, () => clock, (e) => failures.push(e));
    await d.blockedBy('bo');
    clock = 2_500;
    await d.blockedBy('bo');
    src.setDown(true);
    await d.refresh();
    expect(failures).toHaveLength(1);
    await expect(d.blockedBy('bo')).resolves.toEqual(new Set());
    expect(src.reads).toHaveLength(1);
    src.setDown(false);
    clock = 4_000;
    await d.blockedBy('bo');
    expect(src.reads).toEqual([['bo'], ['bo']]);
  });
});
