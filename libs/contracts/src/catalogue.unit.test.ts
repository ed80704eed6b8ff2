import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGGREGATE_SUBJECTS, EVENT_CATALOGUE, STREAM_EVENT_SCHEMAS, eventCatalogueMarkdown, eventFields } from './catalogue';
import { Command } from './commands';
import { ConversationEvent, MemberMuteChanged, ReceiptEvent, UserSettingsEvent } from './events';
import { aggregateSubjectParser, names } from './names';
import type { SnapshotKind } from './snapshots';

const typesOf = (schemas: ReadonlyArray<{ shape: { type: { value: string } } }>) => schemas.map((s) => s.shape.type.value).sort();

describe('event catalogue', () => {
  it('docs/events.md matches the zod contracts (run npx tsx scripts/gen-schemas.ts)', () => {
    expect(readFileSync(new URL('../../../docs/events.md', import.meta.url), 'utf8')).toBe(eventCatalogueMarkdown());
  });

  it('every field of every event has a description in its zod schema', () => {
    const missing = STREAM_EVENT_SCHEMAS.flatMap((s) => eventFields(s).filter((f) => !f.description).map((f) => `${s.shape.type.value}.${f.name}`));
    expect(missing).toEqual([]);
  });

  it("each event's aggregate is the union its command service kind folds", () => {
    const byAggregate = (kind: SnapshotKind) => Object.entries(EVENT_CATALOGUE).filter(([, m]) => m.aggregate === kind).map(([type]) => type).sort();
    expect(byAggregate('conversation')).toEqual(typesOf(ConversationEvent.options));
    expect(byAggregate('receipt')).toEqual(typesOf(ReceiptEvent.options));
    expect(byAggregate('preference')).toEqual(typesOf([MemberMuteChanged]));
    expect(byAggregate('user')).toEqual(typesOf(UserSettingsEvent.options));
  });

  it("each aggregate's subject is the one names.ts parses as that aggregate", () => {
    const parse = aggregateSubjectParser(names());
    for (const [kind, subject] of Object.entries(AGGREGATE_SUBJECTS)) {
      expect(parse(subject.replace('{conversationId}', 'g-1').replace('{userId}', 'u1'))?.kind).toBe(kind);
    }
  });

  it('every command appends at least one event type', () => {
    const producing = new Set(Object.values(EVENT_CATALOGUE).flatMap((m) => m.commands));
    expect(Command.options.map((c) => c.shape.type.value).filter((t) => !producing.has(t))).toEqual([]);
  });
});
