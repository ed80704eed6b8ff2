import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpsServer, type OpsServer, type Readiness } from './ops';

const servers: OpsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start(ready: () => Promise<Readiness> | undefined, port = 0): Promise<{ url: string; server: OpsServer; registry: Registry }> {
  const registry = new Registry();
  const server = await startOpsServer({ host: '127.0.0.1', port, registry, ready });
  servers.push(server);
  return { url: `http://127.0.0.1:${server.port}`, server, registry };
}

describe('the ops server', () => {
  it('serves the registry in the Prometheus text format', async () => {
    const { url, registry } = await start(() => Promise.resolve({ checks: {} }));
    new Counter({ name: 'x_total', help: 'x', registers: [registry] }).inc(3);
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    expect(await res.text()).toContain('x_total 3');
  });

  it('answers /readyz with the checks: 200 when all pass, 503 with the problems otherwise, 503 while starting', async () => {
    let state: Readiness | undefined;
    const { url } = await start(() => (state ? Promise.resolve(state) : undefined));
    let res = await fetch(`${url}/readyz`);
    expect([res.status, await res.json()]).toEqual([503, { status: 'starting', checks: {} }]);
    state = { checks: { nats: true, postgres: false }, problems: ['postgres: connection refused'] };
    res = await fetch(`${url}/readyz`);
    expect([res.status, await res.json()]).toEqual([503, { status: 'unavailable', checks: { nats: true, postgres: false }, problems: ['postgres: connection refused'] }]);
    state = { checks: { nats: true, postgres: true } };
    res = await fetch(`${url}/readyz`);
    expect([res.status, await res.json()]).toEqual([200, { status: 'ready', checks: { nats: true, postgres: true } }]);
  });

  it('says stopping on /healthz and /readyz once the app stops, and still serves /metrics', async () => {
    const { url, server } = await start(() => Promise.resolve({ checks: { nats: true } }));
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    server.stopping();
    expect([(await fetch(`${url}/healthz`)).status, (await fetch(`${url}/readyz`)).status, (await fetch(`${url}/metrics`)).status]).toEqual([503, 503, 200]);
  });

  it('answers 404 for anything else, and 500 with the error when a check throws', async () => {
    const { url } = await start(() => Promise.reject(new Error('boom')));
    expect((await fetch(`${url}/`)).status).toBe(404);
    const res = await fetch(`${url}/readyz`);
    expect([res.status, await res.json()]).toEqual([500, { error: { code: 'internal', message: 'boom' } }]);
  });

  it('fails to start on a port in use, naming CHAT_OPS_PORT', async () => {
    const { server } = await start(() => undefined);
    await expect(start(() => undefined, server.port)).rejects.toThrow(`CHAT_OPS_PORT ${server.port} on 127.0.0.1 is in use`);
  });
});
