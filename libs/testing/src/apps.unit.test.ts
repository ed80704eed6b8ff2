import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './apps';

describe('freePort', () => {
  it('gives a port below the range the kernel hands to outgoing connections, free to listen on', async () => {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(1024);
      expect(port).toBeLessThan(start);
    }
    const s = createServer();
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.listen(ports[0], '127.0.0.1', () => res());
    });
    await new Promise((res) => s.close(res));
  });
});
