import { describe, expect, it } from 'vitest';
import { directConversationId } from '../ws/session';
import { BlockDirectory } from './blocks';

describe('BlockDirectory', () => {
  it('refuses a send into the direct conversation of a user who blocks the sender, not into others', async () => {
    const d = new BlockDirectory({ blockedBy: async (u) => (u === 'bo' ? ['ann'] : []), blocking: async () => [] }, 5_000);
    await expect(d.checkSend('bo', directConversationId('ann', 'bo'))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(d.checkSend('bo', directConversationId('cy', 'bo'))).resolves.toBeUndefined();
    await expect(d.checkSend('bo', 'g-group')).resolves.toBeUndefined();
    await expect(d.checkCreateDirect('bo', 'ann')).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('looks a user up once per ttl, and again after it', async () => {
    let clock = 0;
    let reads = 0;
    const d = new BlockDirectory({ blockedBy: async () => (reads++, []), blocking: async () => [] }, 5_000, () => clock);
    await Promise.all([d.blockedBy('bo'), d.blockedBy('bo')]);
    clock += 4_999;
    await d.blockedBy('bo');
    expect(reads).toBe(1);
    clock += 1;
    await d.blockedBy('bo');
    expect(reads).toBe(2);
  });

  it('fails open: an unreachable read model lets the send through, reports it, and is asked again next time', async () => {
    let down = true;
    const failures: unknown[] = [];
    const d = new BlockDirectory(
      {
        blockedBy: async () => {
          if (down) throw new Error('Connection terminated unexpectedly');
          return ['ann'];
        },
        blocking: async () => [],
      },
      5_000,
      () => 0,
      (e) => failures.push(e),
    );
    await expect(d.checkSend('bo', directConversationId('ann', 'bo'))).resolves.toBeUndefined();
    expect(failures).toHaveLength(1);
    down = false;
    await expect(d.checkSend('bo', directConversationId('ann', 'bo'))).rejects.toMatchObject({ code: 'forbidden' });
  });
});
