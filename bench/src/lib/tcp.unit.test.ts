import { describe, expect, it } from 'vitest';
import { parseTcpExt, tcpDelta } from './tcp';

describe('parseTcpExt', () => {
  it('reads the listen-queue and SYN-retransmit counters by name from /proc/net/netstat', () => {
    const text = [
      'TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPSynRetrans',
      'TcpExt: 0 15319 15320 6776',
      'IpExt: InNoRoutes InTruncatedPkts',
      'IpExt: 0 0',
    ].join('\n');
    expect(parseTcpExt(text)).toEqual({ listenOverflows: 15319, listenDrops: 15320, synRetransmits: 6776 });
    expect(tcpDelta({ listenOverflows: 1, listenDrops: 2, synRetransmits: 3 }, parseTcpExt(text))).toEqual({ listenOverflows: 15318, listenDrops: 15318, synRetransmits: 6773 });
    expect(tcpDelta(null, parseTcpExt(text))).toBeNull();
  });
});
