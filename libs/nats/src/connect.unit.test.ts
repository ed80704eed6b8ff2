import { describe, expect, it } from 'vitest';
import { oldNatsServerMessage } from './connect';

describe('oldNatsServerMessage', () => {
  it('has nothing to say about a recent enough server', () => {
    expect(oldNatsServerMessage('2.11.0', 'nats://127.0.0.1:4222')).toBeUndefined();
    expect(oldNatsServerMessage('2.15.1', 'nats://127.0.0.1:4222')).toBeUndefined();
  });

  it('names the version, the server, the minimum, why, and what to do', () => {
    const m = oldNatsServerMessage('2.9.10', 'nats://127.0.0.1:4222');
    expect(m).toMatch(/^nats-server 2\.9\.10 at nats:\/\/127\.0\.0\.1:4222 is older than the minimum 2\.11\.0 this system needs \(.*leader completeness.*\); run `npm run services`.*NATS_URL/);
  });

  it('refuses a server that reports no version', () => {
    expect(oldNatsServerMessage(undefined, 'nats://h:4222')).toMatch(/^a nats-server that reports no version at nats:\/\/h:4222/);
  });

  it('leaves credentials out', () => {
    const m = oldNatsServerMessage('2.10.0', 'nats://user:secret@h:4222,nats://u2:s2@h2:4222');
    expect(m).toContain('nats://h:4222,nats://h2:4222');
    expect(m).not.toContain('secret');
    expect(m).not.toContain('s2@');
  });
});
