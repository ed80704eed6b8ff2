import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { indexedDbStorage } from './storage';

// The browser storage against an in-memory IndexedDB (fake-indexeddb); the web client's
// browser test runs it in Chromium.
describe('indexedDbStorage', () => {
  it('sets, gets and deletes; another storage of the same database name reads what was written', async () => {
    const idb = new IDBFactory();
    const a = indexedDbStorage('chat-alice', { indexedDB: idb });
    expect(await a.get('cursor')).toBeUndefined();
    await a.set('cursor', '"c1_5"');
    await a.set('outbox', '{"v":1,"entries":[]}');
    await a.delete('outbox');
    const b = indexedDbStorage('chat-alice', { indexedDB: idb });
    expect([await b.get('cursor'), await b.get('outbox')]).toEqual(['"c1_5"', undefined]);
    expect(await indexedDbStorage('chat-bob', { indexedDB: idb }).get('cursor')).toBeUndefined();
  });

  it('without IndexedDB the first call fails with a clear error', async () => {
    await expect(indexedDbStorage('x').get('cursor')).rejects.toThrow('indexedDbStorage: no IndexedDB here');
  });
});
