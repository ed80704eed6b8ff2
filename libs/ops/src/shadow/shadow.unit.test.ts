import { describe, expect, it } from 'vitest';
import { mergeIgnored, SEEDED_COLUMNS } from './diff';
import { parseRebuildArgv, rebuildArgv, rebuildRequest } from './command';
import { formatShadow, formatSwap } from './format';
import { withInputs, type BuildReport, type DiffReport } from './rebuild';

describe('chatctl rebuild arguments', () => {
  it('takes one mode and known projections', () => {
    expect(rebuildRequest(['preferences', 'messages'], { shadow: true })).toEqual({ mode: 'shadow', keys: ['preferences', 'messages'], json: false });
    expect(parseRebuildArgv(['conversations', '--swap', '--json'])).toEqual({ mode: 'swap', keys: ['conversations'], json: true });
    expect(parseRebuildArgv(['--shadow'])).toEqual({ mode: 'shadow', keys: [], json: false });
    const r = rebuildRequest(['receipts'], { swap: true, json: true });
    expect(parseRebuildArgv(rebuildArgv(r))).toEqual(r);
  });

  it('refuses no mode, two modes, unknown projections and options, and projections with --discard', () => {
    expect(() => rebuildRequest([], {})).toThrow('give one of --shadow');
    expect(() => rebuildRequest([], { shadow: true, swap: true })).toThrow('not --shadow and --swap');
    expect(() => rebuildRequest(['message'], { shadow: true })).toThrow('unknown projection(s): message');
    expect(() => parseRebuildArgv(['--shadwo'])).toThrow('unknown option --shadwo');
    expect(() => rebuildRequest(['messages'], { discard: true })).toThrow('--discard drops the whole shadow');
  });
});

describe('shadow contents', () => {
  it('builds the projections a chosen one reads alongside it', () => {
    expect(withInputs(['conversations'])).toEqual(['messages', 'conversations']);
    expect(withInputs(['preferences', 'receipts'])).toEqual(['messages', 'receipts', 'preferences']);
    expect(withInputs(['preferences'])).toEqual(['preferences']);
  });

  it('merges ignored columns per table', () => {
    expect(mergeIgnored({ a: ['y'] }, SEEDED_COLUMNS.receipts, { a: ['x', 'y'] })).toEqual({ a: ['x', 'y'], member_receipts: ['delivered_at', 'read_at'] });
  });
});

describe('reports', () => {
  const build: BuildReport = { schema: 'public_shadow', projections: ['conversations'], built: ['messages', 'conversations'], position: 40, events: 40, seed: null, ignoredColumns: {} };
  const diff = (different: number, consistent = true): DiffReport => ({
    schema: 'public_shadow',
    projections: ['conversations'],
    positions: { live: { conversations: 40 }, shadow: 40 },
    consistent,
    tables: [
      {
        table: 'user_conversations',
        live: 3,
        shadow: 3,
        onlyLive: 0,
        onlyShadow: 0,
        different,
        ignored: [],
        examples: different ? [{ kind: 'different', key: { user_id: 'bob', conversation_id: 'g1' }, columns: { unread_count: { live: 6, shadow: 1 } } }] : [],
      },
    ],
    differences: different,
    ignoredColumns: {},
  });

  it('shows counts, examples with both values, and the next step', () => {
    const text = formatShadow(build, diff(1));
    expect(text).toContain('public_shadow: conversations (with messages, which it reads) rebuilt: 40 event(s) applied up to 40');
    expect(text).toMatch(/user_conversations\s+3\s+3\s+0\s+0\s+1/);
    expect(text).toContain('user_conversations user_id=bob conversation_id=g1: unread_count live 6, shadow 1');
    expect(text).toContain('1 row(s) differ. The swap would replace the live rows with the shadow\'s: chatctl rebuild conversations --swap');
    expect(text).not.toContain('warning');
    expect(formatShadow(build, diff(0, false))).toContain('warning: the live position kept moving');
    expect(formatShadow(build, diff(0))).toContain('no differences');
  });

  it('says whether the checkpoints moved in a swap', () => {
    const swap = { schema: 'public_shadow', projections: ['conversations' as const], tables: ['user_conversations'], position: 40, lockAttempts: 1, cacheUsers: 2 };
    expect(formatSwap({ ...swap, livePositions: { conversations: 40 } })).toContain('checkpoints unchanged');
    expect(formatSwap({ ...swap, livePositions: { conversations: 38 } })).toContain('checkpoints moved: conversations 38 -> 40');
  });
});
