/**
 * e2e-1to1-sendonly: the e2e-1to1 load without receipts (the receivers send nothing back), as
 * the 1:1 benchmark was before receipts were added, so older figures stay comparable.
 */
import type { Scenario } from '../context';
import { runE2eScenario } from '../lib/e2e';

export const scenario: Scenario = {
  name: 'e2e-1to1-sendonly',
  run: (ctx) => runE2eScenario(ctx, { receipts: false }),
};
export default scenario;
