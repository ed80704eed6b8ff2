import { describe, expect, it } from 'vitest';
import { CommandConfig, configWarnings, loadConfig, ProjectorConfig, StreamsConfig } from './config';

describe('configuration', () => {
  it('CHAT_MAX_AGE: 10 s to 30 days; under a day is allowed with a warning', () => {
    expect(loadConfig(StreamsConfig, {}).CHAT_MAX_AGE).toBe(30 * 86_400_000);
    expect(loadConfig(ProjectorConfig, { CHAT_MAX_AGE: '10s' }).CHAT_MAX_AGE).toBe(10_000);
    expect(() => loadConfig(CommandConfig, { CHAT_MAX_AGE: '9s' })).toThrow(/CHAT_MAX_AGE: at least 10s/);
    expect(() => loadConfig(StreamsConfig, { CHAT_MAX_AGE: '31d' })).toThrow(/at most 30d/);
    expect(configWarnings({ CHAT_MAX_AGE: 10_000 })).toEqual([expect.stringMatching(/^CHAT_MAX_AGE is 10000 ms, under a day/)]);
    expect(configWarnings({ CHAT_MAX_AGE: 86_400_000 })).toEqual([]);
  });

  it('CHAT_AGGREGATE_CACHE_BYTES: bytes, or with a unit; 256 MiB by default', () => {
    expect(loadConfig(CommandConfig, {}).CHAT_AGGREGATE_CACHE_BYTES).toBe(256 * 1024 * 1024);
    expect(loadConfig(CommandConfig, { CHAT_AGGREGATE_CACHE_BYTES: '1GiB' }).CHAT_AGGREGATE_CACHE_BYTES).toBe(1024 ** 3);
    expect(loadConfig(CommandConfig, { CHAT_AGGREGATE_CACHE_BYTES: '0' }).CHAT_AGGREGATE_CACHE_BYTES).toBe(0);
    expect(() => loadConfig(CommandConfig, { CHAT_AGGREGATE_CACHE_BYTES: 'lots' })).toThrow(/invalid size/);
  });

  it('NATS authentication: one kind at most, pairs together; CHAT_OPS_PORT per app', () => {
    expect(loadConfig(CommandConfig, { NATS_CREDS: '/etc/chat/app.creds', NATS_TLS_CA: '/etc/chat/ca.pem' }).NATS_CREDS).toBe('/etc/chat/app.creds');
    expect(() => loadConfig(CommandConfig, { NATS_CREDS: '/a.creds', NATS_TOKEN: 't' })).toThrow(/set one of NATS_CREDS, NATS_NKEY_SEED, NATS_USER\/NATS_PASSWORD, NATS_TOKEN/);
    expect(() => loadConfig(CommandConfig, { NATS_USER: 'chat' })).toThrow(/NATS_USER and NATS_PASSWORD go together/);
    expect(() => loadConfig(CommandConfig, { NATS_TLS_CERT: '/c.pem' })).toThrow(/NATS_TLS_CERT and NATS_TLS_KEY go together/);
    expect([loadConfig(CommandConfig, {}).CHAT_OPS_PORT, loadConfig(ProjectorConfig, {}).CHAT_OPS_PORT]).toEqual([9471, 9472]);
    expect(loadConfig(CommandConfig, { CHAT_OPS_PORT: '0' }).CHAT_OPS_PORT).toBe(0);
  });
});
