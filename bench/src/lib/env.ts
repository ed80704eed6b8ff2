import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** The servers to use: the environment first, then `.data/env` (written by scripts/services.sh), then the local defaults. */
export function serverEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  const file = resolve(ROOT, '.data/env');
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^\s*export\s+([A-Z][A-Z0-9_]*)='?([^']*)'?\s*$/.exec(line);
      if (m) out[m[1]!] = m[2]!;
    }
  }
  for (const k of ['NATS_URL', 'DATABASE_URL', 'REDIS_URL']) if (process.env[k]) out[k] = process.env[k]!;
  out['NATS_URL'] ??= 'nats://127.0.0.1:4222';
  out['DATABASE_URL'] ??= 'postgres://postgres@127.0.0.1:5432/chat';
  out['REDIS_URL'] ??= 'redis://127.0.0.1:6379';
  return out;
}
