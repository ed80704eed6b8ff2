/**
 * e2e-1to1-syncalways: the e2e-1to1 load (receipts included, same steps) against a system
 * whose NATS server fsyncs every JetStream write (`jetstream { sync_interval: always }`), i.e.
 * "sent ✓" survives a power loss, not only a process crash. A private nats-server on its own
 * port and store dir under .data/bench/, from NATS_SERVER_BIN (scripts/services.sh writes it
 * to .data/env; main.ts loads it, else asks `scripts/services.sh nats-bin`; with neither, a
 * nats-server on PATH is used and the result says so). `sync_interval` exists from
 * nats-server 2.10; an older server rejects the config, and then the scenario records
 * `supported: false` with the reason: it is never run on the default server instead.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { resolve } from 'node:path';
import type { Scenario } from '../context';
import { runE2eScenario } from '../lib/e2e';
import { ROOT } from '../lib/env';
import { natsInfo } from '../lib/nats-info';
import { freePort } from '../system';

/** NATS_SERVER_BIN, else the first nats-server found on PATH or in the usual places. */
export function natsServerBinary(): { bin: string; source: string } {
  const env = process.env['NATS_SERVER_BIN'];
  if (env) return { bin: env, source: 'NATS_SERVER_BIN' };
  for (const b of ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    try {
      execFileSync(b, ['--version'], { stdio: 'ignore' });
      return { bin: b, source: 'search (NATS_SERVER_BIN unset)' };
    } catch {
      // next
    }
  }
  throw new Error('no nats-server binary: NATS_SERVER_BIN is unset and none is on PATH');
}

function version(bin: string): string {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^nats-server:\s*v?/, '');
}

/** `nats-server -t -c conf`: checks the config and exits. */
function configCheck(bin: string, conf: string): { ok: boolean; output: string } {
  try {
    const out = execFileSync(bin, ['-t', '-c', conf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return { ok: true, output: out.trim() };
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    return { ok: false, output: `${err.stderr ?? ''}${err.stdout ?? ''}`.trim() || err.message };
  }
}

async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const s = netConnect(port, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nats-server did not listen on ${port}`);
}

export const scenario: Scenario = {
  name: 'e2e-1to1-syncalways',
  async run(ctx) {
    const { bin, source } = natsServerBinary();
    const binaryVersion = version(bin);
    const dir = resolve(ROOT, `.data/bench/nats-syncalways-${randomBytes(3).toString('hex')}`);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const conf = resolve(dir, 'nats.conf');
    writeFileSync(conf, `# e2e-1to1-syncalways: fsync every JetStream write\nhost: 127.0.0.1\nport: ${port}\njetstream {\n  store_dir: "${dir}/store"\n  sync_interval: always\n}\n`);
    const binary = { path: bin, source, version: binaryVersion };
    const check = configCheck(bin, conf);
    if (!check.ok) {
      rmSync(dir, { recursive: true, force: true });
      const reason = `nats-server ${binaryVersion} (${bin}, from ${source}) does not support \`jetstream { sync_interval: always }\` (added in nats-server 2.10): ${check.output.split('\n')[0]}. Could not be measured; it was not run on the default server instead. Set NATS_SERVER_BIN to a 2.10+ binary to measure it.`;
      ctx.progress(`not measured: ${reason}`);
      return { quick: ctx.quick, supported: false, measured: false, natsServer: binaryVersion, natsServerBinary: binary, reason };
    }
    ctx.progress(`private nats-server ${binaryVersion} (${bin}, from ${source}) on ${port}, sync_interval: always, store ${dir}`);
    const server = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const serverErr: string[] = [];
    server.stderr!.on('data', (b: Buffer) => {
      serverErr.push(b.toString());
      if (serverErr.length > 50) serverErr.shift();
    });
    const exited = new Promise<void>((r) => server.once('exit', () => r()));
    try {
      await waitPort(port);
      const natsUrl = `nats://127.0.0.1:${port}`;
      const info = await natsInfo(natsUrl);
      const result = await runE2eScenario(ctx, { receipts: true, natsUrl });
      return { supported: true, measured: true, natsServer: info?.version ?? binaryVersion, natsServerBinary: binary, natsServerPid: server.pid, syncInterval: 'always', ...result };
    } catch (e) {
      if (serverErr.length) ctx.progress(`nats-server (syncalways) said: ${serverErr.join('').slice(-2000)}`);
      throw e;
    } finally {
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        const t = setTimeout(() => server.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default scenario;
