import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { asyncApiDocument } from './asyncapi';
import { CLIENT_FRAME_TYPES, ServerFrame } from './frames';

const text = readFileSync(new URL('../../../docs/asyncapi.json', import.meta.url), 'utf8');

describe('docs/asyncapi.json', () => {
  it('matches the zod contracts (run npx tsx scripts/gen-schemas.ts)', () => {
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(asyncApiDocument())));
  });

  it('is a valid AsyncAPI document whose operations carry every client and server frame', async () => {
    const { document, diagnostics } = await new Parser().parse(text);
    expect(diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    const frames = (action: 'send' | 'receive') =>
      document!
        .operations()
        .all()
        .filter((op) => op.action() === action)
        .flatMap((op) => op.messages().all().map((m) => m.name()))
        .sort();
    expect(frames('receive')).toEqual([...CLIENT_FRAME_TYPES].sort());
    expect(frames('send')).toEqual(ServerFrame.options.map((f) => f.shape.type.value).sort());
  });
});
