/**
 * Finds the processes of the servers a system actually uses (Linux): the process listening on
 * the port of NATS_URL / DATABASE_URL / REDIS_URL, from /proc/net/tcp{,6} (listening socket →
 * inode) and /proc/<pid>/fd (inode → pid), with `ss -ltnpH` as a fallback; and the children
 * of a process (Postgres: every backend and auxiliary process is a child of the postmaster)
 * from the parent pid in /proc/<pid>/stat. The parsers are pure and unit-tested.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface TcpSocket {
  localAddress: string;
  localPort: number;
  /** Kernel state, hex: '0A' is LISTEN. */
  state: string;
  inode: number;
}

const LISTEN = '0A';

/** An address from /proc/net/tcp (8 hex digits, IPv4 in host byte order, i.e. little-endian here) or tcp6 (32 hex digits, four little-endian words). */
export function decodeProcAddress(hex: string): string {
  if (hex.length === 8) {
    const b = hex.match(/../g)!.map((x) => parseInt(x, 16));
    return b.reverse().join('.');
  }
  if (hex.length === 32) {
    const words = hex.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''));
    const bytes = words.join('');
    // ::ffff:a.b.c.d
    if (/^0{20}ffff/i.test(bytes)) {
      const v4 = bytes.slice(24).match(/../g)!.map((x) => parseInt(x, 16));
      return `::ffff:${v4.join('.')}`;
    }
    const groups = bytes.match(/.{4}/g)!.map((g) => parseInt(g, 16).toString(16));
    // compress the longest run of zero groups
    let best = -1;
    let bestLen = 0;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== '0') {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen) [best, bestLen] = [i, j - i];
      i = j;
    }
    if (bestLen < 2) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  }
  throw new Error(`bad address ${hex}`);
}

/** The sockets listed in /proc/net/tcp or /proc/net/tcp6 (header line skipped). */
export function parseProcNetTcp(text: string): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addr, port] = f[1]!.split(':');
    if (!addr || !port) continue;
    out.push({ localAddress: decodeProcAddress(addr), localPort: parseInt(port, 16), state: f[3]!, inode: Number(f[9]) });
  }
  return out;
}

const WILDCARD = new Set(['0.0.0.0', '::']);
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

/**
 * The inodes of the sockets listening on `port` that a client of `host` reaches: the same
 * address, else a wildcard one. A host that is not this machine's loopback matches any local
 * address on the port (it may be one of this machine's own addresses).
 */
export function listeningInodes(sockets: readonly TcpSocket[], port: number, host = '127.0.0.1'): number[] {
  const listening = sockets.filter((s) => s.state === LISTEN && s.localPort === port && s.inode > 0);
  const h = host.replace(/^\[|\]$/g, '');
  const exact = listening.filter((s) => s.localAddress === h || (LOOPBACK.has(h) && LOOPBACK.has(s.localAddress)));
  if (exact.length) return exact.map((s) => s.inode);
  return listening.filter((s) => WILDCARD.has(s.localAddress) || !LOOPBACK.has(h)).map((s) => s.inode);
}

/** `ss -ltnpH` output → pids listening on `port` (`users:(("nats-server",pid=2955,fd=5))`). */
export function parseSsListeners(text: string, port: number): number[] {
  const pids = new Set<number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // State Recv-Q Send-Q Local:Port Peer:Port Process
    const local = f.find((x, i) => i >= 3 && /:\d+$/.test(x));
    if (!local || Number(local.slice(local.lastIndexOf(':') + 1)) !== port) continue;
    for (const m of line.matchAll(/pid=(\d+)/g)) pids.add(Number(m[1]));
  }
  return [...pids];
}

/** Fields of /proc/<pid>/stat after the command name: [0] state, [1] ppid, … [11] utime, [12] stime, [13] cutime, [14] cstime. */
export function parseStat(text: string): { comm: string; ppid: number; utime: number; stime: number; cutime: number; cstime: number } {
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  return { comm, ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
}

export function readStat(pid: number): ReturnType<typeof parseStat> | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

const numericDirs = (): number[] => {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
};

/** Every live process whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  return numericDirs().filter((p) => readStat(p)?.ppid === pid);
}

/** The processes holding any of `inodes` (socket:[inode] in /proc/<pid>/fd). */
function pidsHoldingInodes(inodes: readonly number[]): number[] {
  const want = new Set(inodes.map((i) => `socket:[${i}]`));
  const out: number[] = [];
  for (const pid of numericDirs()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (want.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) {
          out.push(pid);
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}

/** Of processes sharing a socket (a parent and the children it forked), the ones whose parent is not among them. */
export function topmost(pids: readonly number[], ppidOf: (pid: number) => number | undefined): number[] {
  const set = new Set(pids);
  return pids.filter((p) => !set.has(ppidOf(p) ?? -1));
}

export interface ListenerLookup {
  pids: number[];
  via: 'proc' | 'ss' | null;
  note?: string;
}

/** The process(es) listening on host:port on this machine. */
export function findListener(host: string, port: number): ListenerLookup {
  let sockets: TcpSocket[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      sockets = sockets.concat(parseProcNetTcp(readFileSync(f, 'utf8')));
    } catch {
      // no IPv6, or not Linux
    }
  }
  const inodes = listeningInodes(sockets, port, host);
  if (inodes.length) {
    const holders = pidsHoldingInodes(inodes);
    if (holders.length) return { pids: topmost(holders, (p) => readStat(p)?.ppid), via: 'proc' };
  }
  try {
    const ss = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
    const pids = parseSsListeners(ss, port);
    if (pids.length) return { pids: topmost(pids, (p) => readStat(p)?.ppid), via: 'ss' };
  } catch {
    // no ss
  }
  return { pids: [], via: null, note: inodes.length ? `port ${port}: listening socket found but not its process (no permission to read /proc/<pid>/fd?)` : `nothing listens on port ${port} here` };
}

/** host and port of each server in a (comma-separated) URL. */
export function urlHostPorts(url: string, defaultPort: number): Array<{ host: string; port: number }> {
  return url
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => {
      const parsed = new URL(u.includes('://') ? u : `nats://${u}`);
      return { host: parsed.hostname || '127.0.0.1', port: parsed.port ? Number(parsed.port) : defaultPort };
    });
}

export interface ServerProcess {
  /** 'nats-server', 'postgres', 'redis-server' (with -2, -3 … for more servers of a kind). */
  name: string;
  url: string;
  pid: number | null;
  /** Count the children too (Postgres: the postmaster's backends and auxiliary processes). */
  withChildren: boolean;
  via: 'proc' | 'ss' | null;
  note?: string;
}

/** The server processes behind the given URLs (any may be omitted: the peer uses no NATS). */
export function discoverServers(urls: { nats?: string; postgres?: string; redis?: string }): ServerProcess[] {
  const out: ServerProcess[] = [];
  const add = (kind: string, url: string | undefined, port: number, withChildren: boolean) => {
    if (!url) return;
    urlHostPorts(url, port).forEach(({ host, port: p }, i) => {
      const found = findListener(host, p);
      const name = i === 0 ? kind : `${kind}-${i + 1}`;
      out.push({ name, url: `${host}:${p}`, pid: found.pids[0] ?? null, withChildren, via: found.via, ...(found.note ? { note: found.note } : found.pids.length > 1 ? { note: `several listeners: ${found.pids.join(', ')}` } : {}) });
    });
  };
  add('nats-server', urls.nats, 4222, false);
  add('postgres', urls.postgres, 5432, true);
  add('redis-server', urls.redis, 6379, false);
  return out;
}
