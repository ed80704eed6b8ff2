/**
 * Exit 0 when the NATS server at argv[2] answers and has JetStream enabled, 1 otherwise.
 * Used by scripts/services.sh to decide whether a running server can be reused.
 */
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

const url = process.argv[2] ?? 'nats://127.0.0.1:4222';
try {
  const nc = await connect({ servers: url.split(',').map((s) => s.trim()), timeout: 2000, maxReconnectAttempts: 0 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    await jsm.getAccountInfo();
  } finally {
    await nc.close();
  }
  process.exit(0);
} catch (e) {
  console.error(`${url}: ${(e as Error).message}`);
  process.exit(1);
}
