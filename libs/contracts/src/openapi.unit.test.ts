import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_ROUTES, openApiDocument } from './openapi';

describe('docs/openapi.json', () => {
  it('matches the zod contracts (run npx tsx scripts/gen-schemas.ts)', () => {
    const file = JSON.parse(readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(file).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it.each(HTTP_ROUTES.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))('%s: its path template names exactly the fields of its params schema', (_, r) => {
    const inPath = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    expect(inPath).toEqual(Object.keys(r.params?.shape ?? {}).sort());
  });
});
