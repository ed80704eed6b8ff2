import nx from '@nx/eslint-plugin';
import { createProjectGraphAsync } from '@nx/devkit';
import tseslint from 'typescript-eslint';

// @nx/enforce-module-boundaries silently skips itself when no project graph is cached, so
// build (or refresh) it here; without the daemon it is a local computation, no network.
process.env.NX_DAEMON ??= 'false';
await createProjectGraphAsync({ exitOnError: true });

/** I/O libraries only adapters (and the apps and tools built on them) may import. */
const IO_LIBS = ['@nats-io/*', 'pg', 'ioredis', '@aws-sdk/*', 'ws', 'fastify', '@fastify/*'];
/** Node built-ins are not in the project graph, so the Nx rule cannot see them. */
const NODE_BUILTINS = ['node:*', 'fs', 'fs/*', 'net', 'http', 'https', 'http2', 'child_process', 'dgram', 'tls', 'os', 'path', 'crypto'];

const restrictBuiltins = (files, message, ignores = []) => ({
  files,
  ignores: ['**/*.test.ts', ...ignores],
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: NODE_BUILTINS, message }] }],
  },
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.data/**', '.nx/**', 'dist/**', 'libs/client/dist/**', 'coverage/**', 'docs/schemas/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:domain', 'type:contracts'],
              bannedExternalImports: [...IO_LIBS, 'node:*', 'fs', 'net', 'http'],
            },
            {
              sourceTag: 'type:contracts',
              onlyDependOnLibsWithTags: ['type:contracts'],
              // vitest and the AsyncAPI parser: unit tests sit next to the schemas they test.
              allowedExternalImports: ['zod', 'vitest', '@asyncapi/parser'],
            },
            {
              sourceTag: 'type:client',
              onlyDependOnLibsWithTags: ['type:client', 'type:contracts'],
              // `ws` stays allowed: an optional peer for Node clients; browsers use their own.
              bannedExternalImports: IO_LIBS.filter((lib) => lib !== 'ws'),
            },
            { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:adapter'] },
            // A tier of the system an app shell hosts (the command tier: the command app or an edge); type:testing for its int tests' support (testing/).
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:adapter', 'type:testing'] },
            { sourceTag: 'type:ops', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:adapter', 'type:ops'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:adapter', 'type:ops', 'type:testing'] },
            { sourceTag: 'type:app', notDependOnLibsWithTags: ['type:app'] },
          ],
        },
      ],
    },
  },
  restrictBuiltins(['libs/domain/**'], 'domain code is pure: time, ids and I/O arrive through commands and adapters'),
  restrictBuiltins(['libs/contracts/**'], 'contracts are shared with browsers: zod only'),
  restrictBuiltins(['libs/client/**'], 'the client SDK runs in browsers too', [
    // The package's Node-only entry (@chat/client/node: file storage), never in a browser
    // bundle, and the tooling that builds and packs the package.
    'libs/client/src/node.ts',
    'libs/client/tsup.config.ts',
    'libs/client/scripts/**',
  ]),
);
