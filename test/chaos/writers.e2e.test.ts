import { describe, expect, it } from 'vitest';
import { runWriters, writersDefaults } from '../../chaos/src/writers';

/**
 * Overlapping writers on an R3 stream across leader changes (`npm run chaos -- --writers`,
 * shortened): four writers with no lease between them append to the same six conversations
 * through the command side's event store while the stream's leader is stepped down, killed or
 * paused. No (conversation, seq) may be stored twice, seqs stay dense, nothing acknowledged is
 * missing. nats-server 2.9.10 fails this within a second (two appends with the same
 * expectation both stored); 2.11+ checks each expectation against everything it acknowledged.
 */
describe('overlapping writers (R3, leader changes)', () => {
  it('never stores two events at one conversation seq', async () => {
    // Ports (and run directory) apart from the chaos test's, whose app logs stay for a look after a failure.
    const summary = await runWriters({ ...writersDefaults(7), seconds: 15, minLeaderChanges: 4, writeResults: false, portBase: 24100 });
    const { examples, ...head } = summary;
    console.log(`writers: ${JSON.stringify(head)}`);
    if (examples.length) console.log(examples.join('\n'));
    // The writers did overlap (conflicts) and the leader did change, or the test proves nothing.
    expect(summary.conflicts).toBeGreaterThan(0);
    expect(summary.leaderChanges.stepdown + summary.leaderChanges.kill + summary.leaderChanges.pause).toBeGreaterThanOrEqual(4);
    expect(summary.acked).toBeGreaterThan(1_000);
    expect({ duplicates: summary.duplicates, seqGaps: summary.seqGaps, lost: summary.lost }).toEqual({ duplicates: 0, seqGaps: 0, lost: 0 });
  }, 180_000);
});
