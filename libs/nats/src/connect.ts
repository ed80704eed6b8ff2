import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';

export interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Connects with unlimited reconnects: a NATS restart pauses the apps, it does not kill them. */
export async function connectNats(url: string, name: string): Promise<Nats> {
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
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc), jsm };
}
