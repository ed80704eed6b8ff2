/** The INFO a NATS server sends first on a new connection (version, server id, JetStream), read over plain TCP. */
import { connect } from 'node:net';
import { urlHostPorts } from './pids';

export interface NatsInfo {
  version: string;
  server_id?: string;
  server_name?: string;
  jetstream?: boolean;
  [k: string]: unknown;
}

/** Parses the first line a NATS server sends: `INFO {json}`. */
export function parseInfoLine(line: string): NatsInfo | null {
  const m = /^INFO\s+(\{.*\})\s*$/.exec(line.trim());
  if (!m) return null;
  try {
    const info = JSON.parse(m[1]!) as NatsInfo;
    return typeof info.version === 'string' ? info : null;
  } catch {
    return null;
  }
}

/** The INFO of the first server in `url` (comma-separated list allowed), or null when it cannot be read within `timeoutMs`. */
export function natsInfo(url: string, timeoutMs = 5_000): Promise<NatsInfo | null> {
  const [first] = urlHostPorts(url, 4222);
  if (!first) return Promise.resolve(null);
  return new Promise((resolve) => {
    let buf = '';
    const done = (v: NatsInfo | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const sock = connect(first.port, first.host);
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(parseInfoLine(buf.slice(0, nl)));
    });
    sock.on('error', () => done(null));
  });
}
