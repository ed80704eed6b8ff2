import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
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
  /** Authentication and TLS (the NATS_* settings of every app's configuration). */
  security?: NatsSecurity;
}

/** The NATS_* authentication and TLS settings (libs/contracts config: at most one kind of authentication). */
export interface NatsSecurity {
  NATS_CREDS?: string | undefined;
  NATS_NKEY_SEED?: string | undefined;
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_TOKEN?: string | undefined;
  NATS_TLS_CA?: string | undefined;
  NATS_TLS_CERT?: string | undefined;
  NATS_TLS_KEY?: string | undefined;
}

/**
 * nats.js options for the settings. Credentials and seed files are read again on every
 * (re)connect, so a rotated file is picked up without a restart.
 */
export function securityOptions(s: NatsSecurity = {}): Partial<ConnectionOptions> {
  const out: Partial<ConnectionOptions> = {};
  const { NATS_CREDS: creds, NATS_NKEY_SEED: seed } = s;
  if (creds) out.authenticator = credsAuthenticator(() => readFileSync(creds));
  else if (seed) out.authenticator = nkeyAuthenticator(() => new TextEncoder().encode(readFileSync(seed, 'utf8').trim()));
  else if (s.NATS_USER && s.NATS_PASSWORD) Object.assign(out, { user: s.NATS_USER, pass: s.NATS_PASSWORD });
  else if (s.NATS_TOKEN) out.token = s.NATS_TOKEN;
  if (s.NATS_TLS_CA || s.NATS_TLS_CERT) {
    out.tls = {
      ...(s.NATS_TLS_CA ? { caFile: s.NATS_TLS_CA } : {}),
      ...(s.NATS_TLS_CERT ? { certFile: s.NATS_TLS_CERT } : {}),
      ...(s.NATS_TLS_KEY ? { keyFile: s.NATS_TLS_KEY } : {}),
    };
  }
  return out;
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
    ...securityOptions(opts.security),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // A server that hangs without closing the socket (paused, partitioned) is given up after
    // two unanswered pings, ~20 s, and the client moves to another server of the cluster;
    // the default (2 min × 2) would stall an app for minutes.
    pingInterval: 10_000,
    maxPingOut: 2,
    // Without this every request (a KV write, a JetStream API call, a js.publish; not the
    // appends of publisher.ts) creates an Error up front to keep the caller's stack for a later
    // failure: 10–25 µs of client CPU per js.publish here (bench/src/micro/js-publish.ts). A
    // failed request still says what failed; its stack starts in the client's reader.
    noAsyncTraces: true,
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
