// Regenerates docs/schemas/*.json from the zod contracts: `npx tsx scripts/gen-schemas.ts`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { protocolJsonSchemas } from '@chat/contracts';

const dir = new URL('../docs/schemas/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(protocolJsonSchemas())) {
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify(schema, null, 2) + '\n');
}
console.log('docs/schemas written');
