/** peer-socketio-sendonly: the peer-socketio load without receipts, as it was measured before receipts were added. */
import type { Scenario } from '../context';
import { runPeerScenario } from './peer-socketio';

export const scenario: Scenario = {
  name: 'peer-socketio-sendonly',
  run: (ctx) => runPeerScenario(ctx, { receipts: false }),
};
export default scenario;
