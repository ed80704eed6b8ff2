import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSystem, token, type RunningSystem } from '../support/system';

/**
 * The SDK as a package: `npm run pack:sdk` builds and packs it, a project outside the monorepo
 * installs the tarball (plus `ws`), and plain Node scripts (ESM and CommonJS) use it against a
 * running system; a browser bundle of it holds nothing of Node.
 */
const run = promisify(execFile);
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const id = Math.random().toString(36).slice(2, 8);

let sys: RunningSystem;
let dir: string;
let tarball: string;

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'));
  const packed = await run('npm', ['run', '--silent', 'pack:sdk'], { cwd: ROOT, maxBuffer: 16 << 20 });
  tarball = packed.stdout.trim().split('\n').at(-1)!;
  dir = await mkdtemp(join(tmpdir(), 'chat-sdk-consumer-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'sdk-consumer', private: true }));
  const ws = JSON.parse(await readFile(join(ROOT, 'node_modules/ws/package.json'), 'utf8')).version as string;
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `ws@${ws}`], { cwd: dir, maxBuffer: 16 << 20 });
}, 300_000);

afterAll(async () => {
  await sys?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Alice sends Bob a message through the installed package; prints what each side saw as JSON. */
const script = (kind: 'esm' | 'cjs') => `
${kind === 'esm' ? `import WebSocket from 'ws';\nimport { ChatClient, ChatError } from '@chat/client';\nimport { fileStorage } from '@chat/client/node';` : `const WebSocket = require('ws');\nconst { ChatClient, ChatError } = require('@chat/client');\nconst { fileStorage } = require('@chat/client/node');`}
const [wsUrl, tokenA, tokenB, bob, storagePath] = process.argv.slice(2);
setTimeout(() => { console.error('timed out'); process.exit(2); }, 30000).unref();
async function main() {
  const open = (token, storage) => new ChatClient({ url: wsUrl, token, reconnect: true, storage, createSocket: (u) => new WebSocket(u) });
  const alice = open(tokenA, fileStorage(storagePath));
  const bobClient = open(tokenB);
  await alice.connect();
  await bobClient.connect();
  const received = new Promise((resolve) => bobClient.on('message', resolve));
  const { conversationId } = await alice.createConversation({ kind: 'direct', members: [bob] });
  const sent = await alice.send({ conversationId, body: { text: 'hello from the package' } });
  const m = await received;
  const refused = await alice.send({ conversationId: 'd-nope', body: { text: '?' } }).catch((e) => e);
  // The list is a read model: it shows the conversation once the projector stored it.
  let listed = false;
  for (let i = 0; i < 100 && !listed; i++) {
    listed = (await alice.http.conversations()).conversations.some((c) => c.conversationId === conversationId);
    if (!listed) await new Promise((r) => setTimeout(r, 100));
  }
  await alice.syncAll();
  await alice.flush();
  alice.close();
  bobClient.close();
  console.log(JSON.stringify({
    sent: sent.seq,
    received: { text: m.body.text, seq: m.seq, from: m.senderId },
    refused: { isChatError: refused instanceof ChatError, code: refused.code },
    listed,
    state: alice.state,
  }));
}
main().catch((e) => { console.error(e); process.exit(1); });
`;

describe('the SDK package', () => {
  it('ships ESM, CommonJS and bundled types; depends on zod, ws an optional peer, nothing of the monorepo', async () => {
    const pkgDir = join(dir, 'node_modules/@chat/client');
    const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8'));
    expect(manifest.exports['.']).toEqual({
      import: { types: './index.d.ts', default: './index.js' },
      require: { types: './index.d.cts', default: './index.cjs' },
    });
    expect(manifest.exports['./node']).toBeDefined();
    expect(Object.keys(manifest.dependencies)).toEqual(['zod']);
    expect(manifest.peerDependenciesMeta).toEqual({ ws: { optional: true } });
    const types = await readFile(join(pkgDir, 'index.d.ts'), 'utf8');
    expect(types).toMatch(/declare class ChatClient/);
    expect(types).not.toMatch(/from ['"]@chat\//);
    expect(await readFile(join(pkgDir, 'README.md'), 'utf8')).toMatch(/^# @chat\/client/);
  });

  it('type-checks in a TypeScript project that installed it', async () => {
    await writeFile(
      join(dir, 'check.ts'),
      `import { ChatClient, ChatError, type ServerFrameOf } from '@chat/client';
import { fileStorage } from '@chat/client/node';
const c = new ChatClient({ url: 'ws://127.0.0.1:1/v1/ws', getToken: async () => 't', storage: fileStorage('s.json') });
c.on('message', (m: ServerFrameOf<'message.new'>) => m.seq.toFixed());
c.on('unauthorized', (e: ChatError) => e.code.toUpperCase());
export const state: 'disconnected' | 'connecting' | 'syncing' | 'connected' = c.state;
`,
    );
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2023', 'DOM'], types: [], noEmit: true, skipLibCheck: false }, files: ['check.ts'] }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    await expect(run(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(() => 'ok', (e: { stdout: string }) => e.stdout)).resolves.toBe('ok');
  }, 120_000);

  for (const kind of ['esm', 'cjs'] as const) {
    it(`a plain Node script (${kind}) connects, sends a message between two users and sees it delivered`, async () => {
      const file = join(dir, kind === 'esm' ? 'chat.mjs' : 'chat.cjs');
      await writeFile(file, script(kind));
      const bob = `bob-${kind}-${id}`;
      const { stdout } = await run(process.execPath, [file, sys.wsUrl, await token(`alice-${kind}-${id}`), await token(bob), bob, join(dir, `state-${kind}.json`)], { cwd: dir });
      expect(JSON.parse(stdout)).toEqual({
        sent: 1,
        received: { text: 'hello from the package', seq: 1, from: `alice-${kind}-${id}` },
        refused: { isChatError: true, code: 'not_found' },
        listed: true,
        state: 'disconnected',
      });
      // The Node entry's file storage holds the cursor the sync reached.
      const stored = JSON.parse(await readFile(join(dir, `state-${kind}.json`), 'utf8'));
      expect(typeof JSON.parse(stored.cursor)).toBe('string');
    }, 60_000);
  }

  it('bundles for browsers with nothing of Node in it', async () => {
    await writeFile(
      join(dir, 'browser.mjs'),
      `import { ChatClient, indexedDbStorage } from '@chat/client';
globalThis.chat = new ChatClient({ url: 'wss://chat.example.com/v1/ws', getToken: async () => 't', reconnect: true, storage: indexedDbStorage('chat') });
`,
    );
    const result = await build({ entryPoints: [join(dir, 'browser.mjs')], absWorkingDir: dir, bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes('node_modules/@chat/client/index.js'))).toBe(true);
    expect(inputs.filter((p) => builtins.has(p) || p.startsWith('node:'))).toEqual([]);
    const [output] = Object.values(result.metafile.outputs);
    expect(output!.imports).toEqual([]); // everything resolved into the bundle, no external import left
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from ["']node:|require\(["']node:|import\(["']node:/);
  });
});
