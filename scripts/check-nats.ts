/**
 * Probes the NATS server at argv[2] for scripts/services.sh, which decides from the exit status
 * whether a running server can be used:
 *   0  it answers, reports a version >= MIN_NATS_SERVER_VERSION and has JetStream enabled;
 *   2  it answers but is older than the minimum (the reason is on stderr);
 *   1  anything else (not reachable, no JetStream).
 * When it answers, its version is printed on stdout (also for 2).
 */
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { MIN_NATS_SERVER_VERSION, natsServerSupported } from '@chat/contracts';

const url = process.argv[2] ?? 'nats://127.0.0.1:4222';
let code = 1;
try {
  const nc = await connect({ servers: url.split(',').map((s) => s.trim()), timeout: 2000, maxReconnectAttempts: 0 });
  try {
    const version = nc.info?.version ?? '';
    process.stdout.write(`${version}\n`);
    if (!natsServerSupported(version)) {
      console.error(`${url}: nats-server ${version || '(no version)'} is older than the minimum ${MIN_NATS_SERVER_VERSION}`);
      code = 2;
    } else {
      const jsm = await jetstreamManager(nc, { timeout: 2000 });
      await jsm.getAccountInfo();
      code = 0;
    }
  } finally {
    await nc.close();
  }
} catch (e) {
  console.error(`${url}: ${(e as Error).message}`);
  code = code === 2 ? 2 : 1;
}
process.exit(code);
