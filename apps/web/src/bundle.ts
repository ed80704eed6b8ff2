import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { Logger } from 'pino';
import type { Asset } from './server';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '../../..');
const UI_DIR = join(HERE, 'ui');
const SDK_DIST = join(REPO_ROOT, 'libs/client/dist/index.js');
const SDK_SOURCE = join(REPO_ROOT, 'libs/client/src/index.ts');
/** What the SDK's package build is made from: a dist older than any of these is rebuilt. */
const SDK_INPUTS = ['libs/client/src', 'libs/contracts/src', 'libs/client/package.json', 'libs/client/tsup.config.ts', 'libs/client/tsconfig.build.json'].map((p) => join(REPO_ROOT, p));

export interface SdkChoice {
  /** The module `@chat/client` resolves to in the bundle. */
  entry: string;
  /** `package`: the SDK's packed build (libs/client/dist); `source`: its TypeScript, when the repository has no `build:sdk` yet. */
  kind: 'package' | 'source';
}

/** Newest modification time of the non-test files under these paths. */
function newestMtime(paths: string[]): number {
  let newest = 0;
  const visit = (p: string) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== 'node_modules' && name !== 'dist') visit(join(p, name));
    } else if (!/\.test\.ts$/.test(p)) newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of paths) visit(p);
  return newest;
}

/**
 * The page is built against the SDK as it is packed for apps (`npm run build:sdk` →
 * libs/client/dist), so the browser runs what an app would install. A missing or stale build is
 * made first; a repository without that script bundles the SDK's sources instead.
 */
export async function chooseSdk(log: Logger): Promise<SdkChoice> {
  const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  if (!scripts['build:sdk']) {
    log.warn('the repository has no build:sdk script: bundling the SDK from libs/client/src');
    return { entry: SDK_SOURCE, kind: 'source' };
  }
  const builtAt = statSync(SDK_DIST, { throwIfNoEntry: false })?.mtimeMs;
  if (builtAt === undefined || builtAt < newestMtime(SDK_INPUTS)) {
    log.info(builtAt === undefined ? 'libs/client/dist is missing: npm run build:sdk' : 'libs/client/dist is older than its sources: npm run build:sdk');
    try {
      await promisify(execFile)('npm', ['run', '--silent', 'build:sdk'], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    } catch (e) {
      const out = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`npm run build:sdk failed: ${out.message}\n${out.stdout ?? ''}${out.stderr ?? ''}`);
    }
    if (!existsSync(SDK_DIST)) throw new Error(`npm run build:sdk did not write ${relative(REPO_ROOT, SDK_DIST)}`);
  }
  return { entry: SDK_DIST, kind: 'package' };
}

/** The page, its stylesheet and its script (minified, with a source map), built in memory. */
export async function buildAssets(sdk: SdkChoice): Promise<Map<string, Asset>> {
  const result = await build({
    entryPoints: { main: join(UI_DIR, 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    outdir: '/',
    write: false,
    sourcemap: 'linked',
    // zod is most of the script: about a third of its size minified.
    minify: true,
    alias: { '@chat/client': sdk.entry },
    logLevel: 'silent',
  });
  const assets = new Map<string, Asset>();
  for (const f of result.outputFiles) {
    const type = f.path.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8';
    assets.set(f.path, { body: f.contents, contentType: type });
  }
  if (!assets.has('/main.js')) throw new Error(`the bundle has no /main.js (got ${[...assets.keys()].join(', ')})`);
  assets.set('/index.html', { body: readFileSync(join(UI_DIR, 'index.html'), 'utf8'), contentType: 'text/html; charset=utf-8' });
  assets.set('/styles.css', { body: readFileSync(join(UI_DIR, 'styles.css'), 'utf8'), contentType: 'text/css; charset=utf-8' });
  return assets;
}
