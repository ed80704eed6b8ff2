import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

// Builds the publishable package into libs/client/dist (`npm run build:sdk`; `npm run pack:sdk`
// packs it). The monorepo itself imports @chat/client from src. @chat/contracts is bundled in
// (code and types), so the package depends on nothing of the monorepo.

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const outDir = resolve(here, 'dist');
const contractsDir = resolve(root, 'libs/contracts/src');

/**
 * Marks @chat/contracts' modules free of side effects, so only those the client uses are
 * bundled: its barrel also re-exports server-side schemas (config, catalogue, OpenAPI).
 */
const SKIP = Symbol('resolving');
const contractsTreeShaking: Plugin = {
  name: 'contracts-tree-shaking',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === SKIP) return undefined;
      const ours = args.path === '@chat/contracts' || (args.path.startsWith('.') && args.importer.startsWith(contractsDir));
      if (!ours) return undefined;
      const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: SKIP });
      if (r.errors.length) return { errors: r.errors };
      return { path: r.path, sideEffects: false };
    });
  },
};

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** The published package's manifest: the version of libs/client, zod's range from the repo. */
function writeManifest(): void {
  const own = readJson(resolve(here, 'package.json'));
  const repo = readJson(resolve(root, 'package.json')) as { dependencies: Record<string, string>; engines?: { node?: string } };
  const entry = (name: string) => ({
    import: { types: `./${name}.d.ts`, default: `./${name}.js` },
    require: { types: `./${name}.d.cts`, default: `./${name}.cjs` },
  });
  const manifest = {
    name: '@chat/client',
    version: own['version'],
    description: 'Typed client SDK for the chat backend: WebSocket protocol, outbox, sync and HTTP API, for browsers and Node',
    type: 'module',
    main: './index.cjs',
    module: './index.js',
    types: './index.d.ts',
    exports: { '.': entry('index'), './node': entry('node'), './package.json': './package.json' },
    sideEffects: false,
    engines: { node: repo.engines?.node ?? '>=20' },
    // zod: the client checks frames restored from storage against the contract, and the types are zod's.
    dependencies: { zod: repo.dependencies['zod'] },
    // ws: the WebSocket of Node 20 (Node 22 and browsers have their own); the SDK never imports it.
    peerDependencies: { ws: '^8.0.0' },
    peerDependenciesMeta: { ws: { optional: true } },
  };
  writeFileSync(resolve(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(resolve(here, 'README.md'), resolve(outDir, 'README.md'));
}

export default defineConfig({
  entry: { index: resolve(here, 'src/index.ts'), node: resolve(here, 'src/node.ts') },
  outDir,
  format: ['esm', 'cjs'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
  // Neutral: the main entry runs in browsers and Node alike; the node entry's built-ins stay imports.
  platform: 'neutral',
  target: 'es2022',
  tsconfig: resolve(here, 'tsconfig.build.json'),
  // Types of @chat/contracts are inlined: tsconfig.build.json maps it to its sources.
  dts: true,
  noExternal: ['@chat/contracts'],
  external: ['zod', 'ws', /^node:/],
  esbuildPlugins: [contractsTreeShaking],
  splitting: false,
  sourcemap: true,
  clean: true,
  onSuccess: async () => writeManifest(),
});
