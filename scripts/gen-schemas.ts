// Regenerates docs/schemas/*.json, docs/events.md, docs/asyncapi.json and docs/openapi.json from
// the zod contracts: `npx tsx scripts/gen-schemas.ts`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { asyncApiDocument, eventCatalogueMarkdown, openApiDocument, protocolJsonSchemas } from '@chat/contracts';

const docs = new URL('../docs/', import.meta.url);
const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';
mkdirSync(new URL('schemas/', docs), { recursive: true });
for (const [name, schema] of Object.entries(protocolJsonSchemas())) {
  writeFileSync(new URL(`schemas/${name}.json`, docs), json(schema));
}
writeFileSync(new URL('events.md', docs), eventCatalogueMarkdown());
writeFileSync(new URL('asyncapi.json', docs), json(asyncApiDocument()));
writeFileSync(new URL('openapi.json', docs), json(openApiDocument()));
console.log('docs/schemas, docs/events.md, docs/asyncapi.json and docs/openapi.json written');
