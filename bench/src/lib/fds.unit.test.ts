import { describe, expect, it } from 'vitest';
import { clientsFitting, parseOpenFilesLimit, socketsLeft } from './fds';
import { parseInfoLine } from './nats-info';

describe('open-file limits', () => {
  it('reads soft and hard limits from /proc/<pid>/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax processes             unlimited            unlimited            processes\nMax open files            1024                 20000                files\n';
    expect(parseOpenFilesLimit(text)).toEqual({ soft: 1024, hard: 20000 });
    expect(parseOpenFilesLimit('Max open files            unlimited            unlimited            files')).toEqual({ soft: Infinity, hard: Infinity });
  });

  it('leaves headroom and fits the group senders in', () => {
    expect(socketsLeft(20_000, 40)).toBe(19_880);
    expect(socketsLeft(100, 40)).toBe(0);
    // 10,000 clients in groups of 100 need 10,100 sockets
    expect(clientsFitting(10_100)).toBe(10_000);
    expect(clientsFitting(19_880)).toBeGreaterThanOrEqual(10_000);
    expect(clientsFitting(5_050)).toBe(5_000);
  });
});

describe('NATS INFO', () => {
  it('reads the version the server announces', () => {
    expect(parseInfoLine('INFO {"server_id":"N1","version":"2.11.4","jetstream":true}\r')?.version).toBe('2.11.4');
    expect(parseInfoLine('-ERR nope')).toBeNull();
    expect(parseInfoLine('INFO {not json}')).toBeNull();
  });
});
