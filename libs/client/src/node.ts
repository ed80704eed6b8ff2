import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ChatStorage } from './storage';

export type { ChatStorage } from './storage';

/**
 * A storage in one JSON file (Node): every key in one object, each write to a temporary file
 * renamed over the old one, so a crash leaves the old or the new content, never half of it.
 * Writes run one at a time. Use one file per account.
 */
export function fileStorage(path: string): ChatStorage {
  if (typeof path !== 'string' || !path) throw new TypeError('fileStorage: path must be a non-empty string');
  let data: Promise<Record<string, string>> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const load = (): Promise<Record<string, string>> =>
    (data ??= readFile(path, 'utf8').then(
      (text) => {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`fileStorage: ${path} does not hold a JSON object`);
        return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
      },
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return {};
        throw e;
      },
    ));
  const change = (fn: (d: Record<string, string>) => void): Promise<void> => {
    const write = queue.then(async () => {
      // A file that cannot be read as an object is replaced: what it held is lost already.
      const d = await load().catch(() => (data = Promise.resolve({})));
      fn(d);
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(d));
      await rename(tmp, path);
    });
    queue = write.catch(() => undefined);
    return write;
  };
  return {
    get: (key) => queue.then(load).then((d) => d[key]),
    set: (key, value) =>
      change((d) => {
        d[key] = value;
      }),
    delete: (key) =>
      change((d) => {
        delete d[key];
      }),
  };
}
