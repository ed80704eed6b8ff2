/**
 * Where a client keeps what must outlive a page or a process: the outbox and the sync cursor.
 * Values are JSON text. Use one storage per account (the keys are the same for every user).
 */
export interface ChatStorage {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** A storage in memory (tests; apps that persist nothing across restarts). */
export function memoryStorage(initial: Record<string, string> = {}): ChatStorage & { readonly data: Map<string, string> } {
  const data = new Map(Object.entries(initial));
  return {
    data,
    get: async (key) => data.get(key),
    set: async (key, value) => void data.set(key, value),
    delete: async (key) => void data.delete(key),
  };
}

/**
 * A storage in the browser's IndexedDB: one database of that name with one object store.
 * `indexedDB` defaults to the global one (browsers and web workers).
 */
export function indexedDbStorage(name = 'chat-client', o: { indexedDB?: IDBFactory } = {}): ChatStorage {
  const STORE = 'kv';
  let db: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const factory = o.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
      if (!factory) throw new Error('indexedDbStorage: no IndexedDB here (pass o.indexedDB, or use fileStorage from @chat/client/node)');
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error(`indexedDbStorage: cannot open ${name}`));
      req.onblocked = () => reject(new Error(`indexedDbStorage: ${name} is blocked by another connection`));
    }).catch((e: unknown) => {
      db = undefined; // the next call tries again
      throw e;
    }));
  const run = async <T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest): Promise<T> => {
    const tx = (await open()).transaction(STORE, mode);
    const req = op(tx.objectStore(STORE));
    return new Promise<T>((resolve, reject) => {
      // Resolved once the transaction committed, so a write is durable when `set` returns.
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(tx.error ?? req.error ?? new Error('indexedDbStorage: transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('indexedDbStorage: transaction aborted'));
    });
  };
  return {
    get: async (key) => {
      const v = await run<unknown>('readonly', (s) => s.get(key));
      return typeof v === 'string' ? v : undefined;
    },
    set: (key, value) => run<void>('readwrite', (s) => s.put(value, key)).then(() => undefined),
    delete: (key) => run<void>('readwrite', (s) => s.delete(key)).then(() => undefined),
  };
}

/**
 * One key's latest value, written one write at a time: a value set while a write runs is
 * written after it, and only the newest of several.
 */
export class PersistedValue {
  /** undefined: nothing to write; null: delete the key. */
  private next: string | null | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly storage: ChatStorage,
    private readonly key: string,
    private readonly onError: (e: unknown) => void,
  ) {}

  set(value: string | null): void {
    this.next = value;
    this.running ??= this.drain();
  }

  /** Resolves once every value set so far is written. */
  async flushed(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.next !== undefined) {
      const v = this.next;
      this.next = undefined;
      try {
        if (v === null) await this.storage.delete(this.key);
        else await this.storage.set(this.key, v);
      } catch (e) {
        this.onError(e);
      }
    }
    this.running = undefined;
  }
}
