import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStorage } from './node';
import { memoryStorage, PersistedValue, type ChatStorage } from './storage';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tempFile = async () => {
  const d = await mkdtemp(join(tmpdir(), 'chat-client-storage-'));
  dirs.push(d);
  return join(d, 'sub', 'state.json');
};

describe('PersistedValue', () => {
  it('writes one value at a time, and of several set meanwhile only the newest', async () => {
    const writes: string[] = [];
    let release!: () => void;
    const storage: ChatStorage = {
      get: async () => undefined,
      set: (_k, v) => {
        writes.push(v);
        return new Promise<void>((r) => (release = r));
      },
      delete: async () => void writes.push('<deleted>'),
    };
    const p = new PersistedValue(storage, 'k', () => undefined);
    p.set('1');
    p.set('2');
    p.set('3');
    expect(writes).toEqual(['1']);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(writes).toEqual(['1', '3']);
    p.set(null);
    release();
    await p.flushed();
    expect(writes).toEqual(['1', '3', '<deleted>']);
  });

  it('reports a failed write and goes on with the next', async () => {
    const m = memoryStorage();
    let fail = true;
    const errors: unknown[] = [];
    const storage: ChatStorage = {
      ...m,
      set: async (k, v) => {
        if (fail) throw new Error('disk full');
        await m.set(k, v);
      },
    };
    const p = new PersistedValue(storage, 'k', (e) => errors.push(e));
    p.set('a');
    await p.flushed();
    fail = false;
    p.set('b');
    await p.flushed();
    expect((errors as Error[]).map((e) => e.message)).toEqual(['disk full']);
    expect(m.data.get('k')).toBe('b');
  });
});

describe('fileStorage', () => {
  it('keeps keys in one JSON file, creating its directory; a new instance reads them back', async () => {
    const path = await tempFile();
    const a = fileStorage(path);
    expect(await a.get('cursor')).toBeUndefined();
    await Promise.all([a.set('cursor', '"c1_5"'), a.set('outbox', '{"v":1,"entries":[]}')]);
    await a.delete('outbox');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ cursor: '"c1_5"' });
    expect(await fileStorage(path).get('cursor')).toBe('"c1_5"');
  });

  it('a file that does not hold an object: reads fail clearly, the next write replaces it', async () => {
    const path = await tempFile();
    await fileStorage(path).set('x', '1'); // creates the directory
    await writeFile(path, '[1,2');
    const s = fileStorage(path);
    await expect(s.get('x')).rejects.toThrow();
    await s.set('x', '2');
    expect(await fileStorage(path).get('x')).toBe('2');
  });

  it('refuses an empty path', () => {
    expect(() => fileStorage('')).toThrow('fileStorage: path must be a non-empty string');
  });
});
