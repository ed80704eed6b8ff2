import { readFileSync } from 'node:fs';

/** The kernel's TCP counters this benchmark reads (machine-wide, from /proc/net/netstat). */
export interface TcpCounters {
  /** Connections the kernel dropped because a listener's accept queue was full. */
  listenOverflows: number;
  listenDrops: number;
  /** SYNs sent again (a client whose handshake was dropped waits 1 s, then 3 s, 7 s …). */
  synRetransmits: number;
}

/** Pure: the TcpExt counters from the text of /proc/net/netstat (a header line, then a value line). */
export function parseTcpExt(netstat: string): TcpCounters {
  const lines = netstat.split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/).slice(1) ?? [];
  const values = lines[1]?.split(/\s+/).slice(1).map(Number) ?? [];
  const get = (k: string) => values[names.indexOf(k)] ?? 0;
  return { listenOverflows: get('ListenOverflows'), listenDrops: get('ListenDrops'), synRetransmits: get('TCPSynRetrans') };
}

export function readTcpCounters(): TcpCounters | null {
  try {
    return parseTcpExt(readFileSync('/proc/net/netstat', 'utf8'));
  } catch {
    return null;
  }
}

/** net.core.somaxconn: the kernel's cap on any listener's accept queue (the edge asks for CHAT_EDGE_BACKLOG). */
export function somaxconn(): number | null {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  } catch {
    return null;
  }
}

export const tcpDelta = (a: TcpCounters | null, b: TcpCounters | null): TcpCounters | null =>
  a && b ? { listenOverflows: b.listenOverflows - a.listenOverflows, listenDrops: b.listenDrops - a.listenDrops, synRetransmits: b.synRetransmits - a.synRetransmits } : null;
