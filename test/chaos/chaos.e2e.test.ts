import { describe, expect, it } from 'vitest';
import { defaults, runChaos } from '../../chaos/src/run';

/**
 * The quick chaos variant (`npm run chaos -- --quick`): its own 3-node NATS cluster (streams
 * R3), Postgres and Redis on private ports, two edges, two command services and the projector;
 * ~60 SDK clients send ~2,000 messages while seven faults (one of each kind) are injected; then
 * every acknowledged message must be stored once with dense seqs, reach every recipient device
 * once and in order, and the read models must equal a rebuild from the stream.
 *
 * The seed fixes the workload shape and the fault schedule (timing still varies run to run);
 * CHAOS_SEED replays another one. The summary is printed, not written to chaos/results/.
 */
const SEED = process.env['CHAOS_SEED'] ? Number(process.env['CHAOS_SEED']) : 11;

describe('chaos (quick)', () => {
  it('loses, duplicates and reorders nothing under faults; read models equal a rebuild', async () => {
    const options = { ...defaults(true, SEED), writeResults: false };
    const summary = await runChaos(options);
    const { details, ...head } = summary;
    console.log(`chaos quick: ${JSON.stringify(head)}`);
    if (!summary.ok) console.log(JSON.stringify(details, null, 2));
    expect(summary.faults.total).toBeGreaterThanOrEqual(options.minFaults);
    expect(summary.acked).toBeGreaterThanOrEqual(options.targetAcked);
    expect({
      lost: summary.lost,
      duplicates: summary.duplicates,
      seqGaps: summary.seqGaps,
      orderViolations: summary.orderViolations,
      readModelDiffs: summary.readModelDiffs,
      receiptRegressions: summary.receiptRegressions,
    }).toEqual({ lost: 0, duplicates: 0, seqGaps: 0, orderViolations: 0, readModelDiffs: 0, receiptRegressions: 0 });
  }, 300_000);
});
