import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerMediaRoutes } from '../media/routes';
import { registerPresenceRoutes } from '../presence/routes';
import { registerUserRoutes } from '../users/routes';
import { registerHttpRoutes } from './routes';

/** `METHOD /path/{param}` of every route the edge's HTTP API registers (routes are only registered: nothing listens or runs). */
async function registeredRoutes(): Promise<string[]> {
  const app = Fastify();
  const routes: string[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      // fastify adds a HEAD route to every GET by itself.
      if (method !== 'HEAD') routes.push(`${method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    }
  });
  const unused = {} as never;
  registerHttpRoutes(app, unused, unused, unused, unused);
  registerMediaRoutes(app, unused, unused, unused);
  registerPresenceRoutes(app, unused, unused);
  registerUserRoutes(app, unused, unused);
  await app.ready();
  await app.close();
  return routes.sort();
}

describe('docs/openapi.json', () => {
  it('documents exactly the routes the edge registers', async () => {
    const doc = JSON.parse(readFileSync(new URL('../../../../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(await registeredRoutes());
  });
});
