import { execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort, REPO_ROOT } from '@chat/testing';

export interface WebApp {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The last lines it printed, for error messages and checks. */
  output: string[];
  stop(): Promise<void>;
}

/**
 * The web client (apps/web/src/main.ts) as its own process, exactly as `npm start` runs it;
 * resolves once it serves its page. Its start may build the SDK package first (a fresh
 * checkout has no libs/client/dist), hence the long wait. TEST_APP_LOGS=1 echoes its logs.
 */
export async function startWebApp(env: Record<string, string>, timeoutMs = 240_000): Promise<WebApp> {
  const port = env['CHAT_WEB_PORT'] ?? String(await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'apps/web/src/main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, CHAT_OPS_PORT: '0', ...env, CHAT_WEB_PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (b: Buffer) => {
    output.push(b.toString());
    if (output.length > 200) output.shift();
    if (process.env['TEST_APP_LOGS']) process.stderr.write(`[web] ${b}`);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the web app exited (${child.exitCode}):\n${output.join('')}`);
    if (await fetch(`${url}/config.json`).then((r) => r.ok, () => false)) return { url, output, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the web app did not serve ${url} within ${timeoutMs} ms:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Debian's chromium (scripts/chromium.sh prints its path, installing it with apt-get when missing). */
export async function chromiumPath(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [resolve(REPO_ROOT, 'scripts/chromium.sh')], { timeout: 600_000 });
  const path = stdout.trim().split('\n').pop();
  if (!path) throw new Error('scripts/chromium.sh printed no path');
  return path;
}
