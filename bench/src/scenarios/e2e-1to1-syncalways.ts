/**
 * e2e-1to1-syncalways: the e2e-1to1 load against a system whose NATS server fsyncs every
 * JetStream write (`jetstream { sync_interval: always }`), i.e. "sent ✓" survives a power
 * loss, not only a process crash. A private nats-server on its own port and store dir under
 * .data/bench/. `sync_interval` exists from nats-server 2.10; an older server rejects the
 * config, and then the scenario records `supported: false` with the reason: it is never run
 * on the default server instead. BENCH_NATS_SERVER points at another binary (e.g. a 2.10+
 * download).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { resolve } from 'node:path';
import type { Scenario } from '../context';
import { e2ePlan, runE2eLoad } from '../lib/e2e';
import { ROOT } from '../lib/env';
import { BENCH_LIMITS, freePort } from '../system';

function findBinary(): string {
  if (process.env['BENCH_NATS_SERVER']) return process.env['BENCH_NATS_SERVER'];
  for (const b of ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    try {
      execFileSync(b, ['--version'], { stdio: 'ignore' });
      return b;
    } catch {
      // next
    }
  }
  throw new Error('no nats-server binary found (set BENCH_NATS_SERVER)');
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
    const plan = e2ePlan(ctx.quick);
    const bin = findBinary();
    const natsServer = version(bin);
    const dir = resolve(ROOT, `.data/bench/nats-syncalways-${randomBytes(3).toString('hex')}`);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const conf = resolve(dir, 'nats.conf');
    writeFileSync(conf, `# e2e-1to1-syncalways: fsync every JetStream write\nhost: 127.0.0.1\nport: ${port}\njetstream {\n  store_dir: "${dir}/store"\n  sync_interval: always\n}\n`);
    const check = configCheck(bin, conf);
    if (!check.ok) {
      rmSync(dir, { recursive: true, force: true });
      const reason = `nats-server ${natsServer} (${bin}) does not support \`jetstream { sync_interval: always }\` (added in nats-server 2.10): ${check.output.split('\n')[0]}. Could not be measured; it was not run on the default server instead. Set BENCH_NATS_SERVER to a 2.10+ binary to measure it.`;
      ctx.progress(`not measured: ${reason}`);
      return { quick: ctx.quick, supported: false, measured: false, natsServer, reason, plan };
    }
    ctx.progress(`private nats-server ${natsServer} on ${port}, sync_interval: always, store ${dir}`);
    const server = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const serverErr: string[] = [];
    server.stderr!.on('data', (b: Buffer) => {
      serverErr.push(b.toString());
      if (serverErr.length > 50) serverErr.shift();
    });
    const exited = new Promise<void>((r) => server.once('exit', () => r()));
    try {
      await waitPort(port);
      const sys = await ctx.startSystem({ edges: 1, natsUrl: `nats://127.0.0.1:${port}` });
      try {
        const result = await runE2eLoad(ctx, {
          transport: 'chat',
          url: sys.wsUrls[0]!,
          secret: sys.env['CHAT_JWT_SECRET']!,
          ...plan,
          pids: { ...sys.pids, 'nats-server (syncalways)': server.pid! },
          generators: Number(process.env['BENCH_GENERATORS'] ?? 1),
        });
        return { quick: ctx.quick, supported: true, measured: true, natsServer, syncInterval: 'always', transport: 'chat', edges: 1, plan, systemEnv: BENCH_LIMITS, ...result };
      } finally {
        await sys.stop();
      }
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
