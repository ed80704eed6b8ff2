import { describe, expect, it } from 'vitest';
import { decodeProcAddress, listeningInodes, parseProcNetTcp, parseSsListeners, parseStat, topmost, urlHostPorts } from './pids';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:107E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6084 1 00000000479ce4ec 100 0 0 10 0
   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 6773 1 0000000027c6c16f 100 0 0 10 0
   2: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7001 1 0000000000000000 100 0 0 10 0
   3: 0100007F:107E 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 9999 1 0000000000000000 20 4 30 10 -1
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 6774 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7002 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7003 1 0000000000000000 100 0 0 10 0
`;

describe('/proc/net/tcp parsing', () => {
  it('decodes IPv4 and IPv6 addresses', () => {
    expect(decodeProcAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeProcAddress('00000000')).toBe('0.0.0.0');
    expect(decodeProcAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeProcAddress('00000000000000000000000000000000')).toBe('::');
    expect(decodeProcAddress('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1');
  });

  it('reads port, state and inode of every socket', () => {
    const s = parseProcNetTcp(TCP);
    expect(s).toHaveLength(4);
    expect(s[0]).toEqual({ localAddress: '127.0.0.1', localPort: 4222, state: '0A', inode: 6084 });
    expect(s[1]).toMatchObject({ localPort: 5432, inode: 6773 });
    expect(s[2]).toMatchObject({ localAddress: '0.0.0.0', localPort: 6379 });
    expect(s[3]).toMatchObject({ localPort: 4222, state: '01', inode: 9999 });
  });

  it('finds the listening socket for a server URL (not the established ones)', () => {
    const s = [...parseProcNetTcp(TCP), ...parseProcNetTcp(TCP6)];
    expect(listeningInodes(s, 4222, '127.0.0.1')).toEqual([6084]);
    // Postgres listens on 127.0.0.1 and ::1: both are its
    expect(listeningInodes(s, 5432, 'localhost').sort()).toEqual([6773, 6774]);
    // wildcard listeners serve loopback clients
    expect(listeningInodes(s, 6379, '127.0.0.1').sort()).toEqual([7001, 7002]);
    expect(listeningInodes(s, 1234, '127.0.0.1')).toEqual([]);
  });
});

describe('ss and /proc/<pid>/stat parsing', () => {
  it('reads the pids from ss -ltnpH', () => {
    const out = `LISTEN 0      4096   127.0.0.1:4222  0.0.0.0:* users:(("nats-server",pid=2955,fd=7))
LISTEN 0      244    127.0.0.1:5432  0.0.0.0:* users:(("postgres",pid=2198,fd=5))
LISTEN 0      244        [::1]:5432     [::]:* users:(("postgres",pid=2198,fd=6))
LISTEN 0      4096   127.0.0.1:24222 0.0.0.0:* users:(("nats-server",pid=6878,fd=6))`;
    expect(parseSsListeners(out, 4222)).toEqual([2955]);
    expect(parseSsListeners(out, 5432)).toEqual([2198]);
    expect(parseSsListeners(out, 6379)).toEqual([]);
  });

  it('reads the parent and CPU times, whatever the command name holds', () => {
    const st = parseStat('2199 (postgres: 15/main: checkpointer (x)) S 2198 2198 2198 0 -1 4210752 321 0 0 0 12 34 5 6 20 0 1 0 1234 0 0');
    expect(st).toEqual({ comm: 'postgres: 15/main: checkpointer (x)', ppid: 2198, utime: 12, stime: 34, cutime: 5, cstime: 6 });
  });

  it('keeps the parent of processes sharing a listening socket', () => {
    const ppid: Record<number, number> = { 10: 1, 11: 10, 12: 10, 20: 1 };
    expect(topmost([11, 10, 12], (p) => ppid[p])).toEqual([10]);
    expect(topmost([10, 20], (p) => ppid[p])).toEqual([10, 20]);
  });

  it('takes host and port from server URLs', () => {
    expect(urlHostPorts('nats://127.0.0.1:14222,nats://127.0.0.1:14223', 4222)).toEqual([
      { host: '127.0.0.1', port: 14222 },
      { host: '127.0.0.1', port: 14223 },
    ]);
    expect(urlHostPorts('postgres://postgres@127.0.0.1/chat', 5432)).toEqual([{ host: '127.0.0.1', port: 5432 }]);
    expect(urlHostPorts('localhost:4222', 4222)).toEqual([{ host: 'localhost', port: 4222 }]);
  });
});
