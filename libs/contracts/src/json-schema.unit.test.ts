import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { protocolJsonSchemas } from './json-schema';

describe('published JSON Schemas', () => {
  it.each(Object.entries(protocolJsonSchemas()))('docs/schemas/%s.json matches the zod contracts (run scripts/gen-schemas.ts)', (name, schema) => {
    const file = new URL(`../../../docs/schemas/${name}.json`, import.meta.url);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(schema)));
  });
});
