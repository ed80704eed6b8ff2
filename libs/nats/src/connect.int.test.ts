import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MIN_NATS_SERVER_VERSION } from '@chat/contracts';
import { connectNats } from './connect';

/**
 * A stand-in for an old nats-server: it sends the INFO line a 2.9.10 server sends, answers
 * PING with PONG and ignores everything else. That is all a client needs to be connected, so
 * connectNats sees a server reporting 2.9.10, like the machine's Debian 12 package.
 */
class FakeNatsServer {
  private readonly server: Server;
  readonly sockets = new Set<Socket>();
  connections = 0;
  port = 0;

  constructor(private readonly version: string) {
    this.server = createServer((socket) => this.serve(socket));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('fake nats-server has no port');
    this.port = address.port;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  private serve(socket: Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const info = {
      server_id: 'NFAKE',
      server_name: 'fake',
      version: this.version,
      proto: 1,
      go: 'go1.19.8',
      host: '127.0.0.1',
      port: this.port,
      headers: true,
      max_payload: 1_048_576,
      jetstream: true,
      client_id: this.connections,
      client_ip: '127.0.0.1',
    };
    socket.write(`INFO ${JSON.stringify(info)}\r\n`);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (/^PING\b/i.test(line)) socket.write('PONG\r\n');
      }
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const waitUntil = async (check: () => boolean, ms = 5_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('connectNats and the minimum nats-server version', () => {
  const old = new FakeNatsServer('2.9.10');
  beforeAll(() => old.start());
  afterAll(() => old.stop());

  it('refuses a server older than the minimum, with a message that says what to do', async () => {
    const err = await connectNats(old.url, 'version-test').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(`nats-server 2.9.10 at nats://127.0.0.1:${old.port} is older than the minimum ${MIN_NATS_SERVER_VERSION}`);
    expect(err!.message).toContain('npm run services');
    expect(err!.message).toContain('NATS_URL');
    // It closed its connection rather than leaving a reconnecting client behind.
    await waitUntil(() => old.sockets.size === 0);
  });

  it('connects to the real server, which services.sh made sure is recent enough', async () => {
    const nats = await connectNats(inject('chatEnv')['NATS_URL']!, 'version-test');
    try {
      expect(nats.nc.info?.version).toBeDefined();
      await nats.jsm.getAccountInfo();
    } finally {
      await nats.nc.close();
    }
  });
});
