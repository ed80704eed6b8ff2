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
 * Lets every write nats.js makes during one turn of the event loop leave as one socket write.
 * nats.js flushes its outbound buffer in a microtask, so publishes made from different
 * promise continuations (an append acknowledged here, a reply there) each became a syscall —
 * a quarter of a busy command process's CPU, and as many reads on the server. The socket is
 * corked at the first write of a turn and uncorked in setImmediate (well under a millisecond
 * later). It reaches into nats.js's transport (not a public API): when the socket is not where
 * this expects it, nothing changes.
 */
export function coalesceWrites(nc: NatsConnection): void {
  type Sock = { write: (...args: unknown[]) => boolean; cork(): void; uncork(): void; __coalesced?: true };
  const apply = () => {
    const sock = (nc as unknown as { protocol?: { transport?: { socket?: Sock } } }).protocol?.transport?.socket;
    if (!sock || sock.__coalesced || typeof sock.cork !== 'function') return;
    sock.__coalesced = true;
    const write = sock.write.bind(sock);
    let corked = false;
    sock.write = (...args: unknown[]) => {
      if (!corked) {
        corked = true;
        sock.cork();
        setImmediate(() => {
          corked = false;
          sock.uncork();
        });
      }
      return write(...args);
    };
  };
  apply();
  // A reconnect makes a new socket.
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'reconnect') apply();
  })().catch(() => undefined);
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
  coalesceWrites(nc);
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc), jsm };
}
