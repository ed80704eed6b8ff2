import { describe, expect, it } from 'vitest';
import { loadConfig, WebConfig } from '@chat/contracts';

describe('WebConfig', () => {
  it('has the documented defaults', () => {
    const cfg = loadConfig(WebConfig, {});
    expect([cfg.CHAT_WEB_HOST, cfg.CHAT_WEB_PORT, cfg.CHAT_WEB_EDGE_URL, cfg.CHAT_OPS_PORT, cfg.CHAT_JWT_SECRET]).toEqual(['127.0.0.1', 8090, 'http://127.0.0.1:8080', 9475, undefined]);
  });

  it('takes the edge as an origin (a trailing slash is fine) and refuses a path or another scheme', () => {
    expect(loadConfig(WebConfig, { CHAT_WEB_EDGE_URL: 'https://edge.example.com:8443/' }).CHAT_WEB_EDGE_URL).toBe('https://edge.example.com:8443');
    expect(() => loadConfig(WebConfig, { CHAT_WEB_EDGE_URL: 'http://127.0.0.1:8080/v1' })).toThrow(/CHAT_WEB_EDGE_URL: an origin such as http:\/\/127.0.0.1:8080, without a path/);
    expect(() => loadConfig(WebConfig, { CHAT_WEB_EDGE_URL: 'ws://127.0.0.1:8080' })).toThrow(/CHAT_WEB_EDGE_URL/);
    expect(() => loadConfig(WebConfig, { CHAT_WEB_PORT: '70000', CHAT_WEB_EDGE_URL: 'nope' })).toThrow(/CHAT_WEB_PORT[\s\S]*CHAT_WEB_EDGE_URL/);
  });
});
