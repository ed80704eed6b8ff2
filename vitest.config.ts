import { existsSync, readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/*
 * The server URLs scripts/services.sh chose (it may have started private servers on other
 * ports). test.sh exports them already; this makes a bare `npx vitest run` agree with it.
 * Set here, in the main process, they reach the global setup and every test worker.
 */
const envFile = new URL('./.data/env', import.meta.url);
if (existsSync(envFile)) {
  for (const [, key, value] of readFileSync(envFile, 'utf8').matchAll(/^export (\w+)='([^']*)'$/gm)) {
    if (key && value !== undefined) process.env[key] ??= value;
  }
}

const exclude = ['**/node_modules/**', '**/.data/**', '**/.nx/**', '**/dist/**'];
const globalSetup = ['./libs/testing/src/global-setup.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['**/*.unit.test.ts'], exclude },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude,
          globalSetup,
          testTimeout: 30_000,
          hookTimeout: 30_000,
          // One file at a time, and after the unit tests: the machine has two cores and the
          // servers are shared.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          exclude,
          globalSetup,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
