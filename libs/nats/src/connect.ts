import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { MIN_NATS_SERVER_REASON, MIN_NATS_SERVER_VERSION, natsServerSupported } from '@chat/contracts';

export interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

export interface ConnectOptions {
  /**
   * Called with the message instead of refusing a server older than MIN_NATS_SERVER_VERSION.
   * Only for tools that merely look (chatctl's reports); anything that runs the system refuses.
   */
  onOldServer?: (message: string) => void;
}

/** The URL without user and password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//');
}

/** Why a server reporting `version` may not be used; undefined when it may. */
export function oldNatsServerMessage(version: string | undefined, url: string): string | undefined {
  if (natsServerSupported(version)) return undefined;
  const what = version ? `nats-server ${version}` : 'a nats-server that reports no version';
  return (
    `${what} at ${redact(url)} is older than the minimum ${MIN_NATS_SERVER_VERSION} this system needs ` +
    `(${MIN_NATS_SERVER_REASON}); run \`npm run services\` to get a current one, or point NATS_URL at a nats-server >= ${MIN_NATS_SERVER_VERSION}`
  );
}

/**
 * Connects with unlimited reconnects: a NATS restart pauses the apps, it does not kill them.
 * Refuses (closes and throws) a server older than MIN_NATS_SERVER_VERSION.
 */
export async function connectNats(url: string, name: string, opts: ConnectOptions = {}): Promise<Nats> {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // A server that hangs without closing the socket (paused, partitioned) is given up after
    // two unanswered pings, ~20 s, and the client moves to another server of the cluster;
    // the default (2 min × 2) would stall an app for minutes.
    pingInterval: 10_000,
    maxPingOut: 2,
  });
  const server = nc.getServer();
  const tooOld = oldNatsServerMessage(nc.info?.version, server ? `nats://${server}` : url);
  if (tooOld) {
    if (!opts.onOldServer) {
      await nc.close().catch(() => undefined);
      throw new Error(tooOld);
    }
    opts.onOldServer(tooOld);
  }
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc), jsm };
}
