import type { TestProject } from 'vitest/node';
import { createTestNamespace, type TestNamespace } from './namespace';

/**
 * One test namespace per `vitest run`, shared by every project that lists this file (int and
 * e2e): each project calls setup, so the namespace is kept on globalThis (the main vitest
 * process) and disposed when the last project tears down. KEEP_TEST_NS=1 keeps it for a look.
 */
const KEY = Symbol.for('@chat/testing/namespace');
interface Shared {
  ns: Promise<TestNamespace>;
  users: number;
}
const registry = globalThis as typeof globalThis & { [KEY]?: Shared };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (registry[KEY] ??= { ns: createTestNamespace(), users: 0 });
  shared.users++;
  const ns = await shared.ns;
  project.provide('chatEnv', ns.env);
  return async () => {
    if (--shared.users > 0) return;
    delete registry[KEY];
    if (process.env['KEEP_TEST_NS'] === '1') {
      console.log(`KEEP_TEST_NS=1: kept test namespace ${ns.ns} (database ${ns.databaseUrl})`);
      return;
    }
    await ns.dispose();
  };
}
