import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, readFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chownSync, chmodSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIN_NATS_SERVER_VERSION, names as namesFor, natsServerSupported, type Names } from '@chat/contracts';
import { createDatabase, migrate, withDatabase, withNats } from '@chat/ops';
import { applyStreams } from '@chat/streams';
import { TEST_LIMITS } from '@chat/testing';

/*
 * The chaos topology: a 3-node NATS JetStream cluster, a private Postgres and a private Redis,
 * all on loopback on their own ports with data under .data/chaos/, plus the apps (two edges,
 * two command services, one projector) as child processes. Nothing here touches the machine's
 * shared servers (4222/5432/6379).
 */

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const NS = 'chaos';
const THIRTY_DAYS_MS = 30 * 86_400_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function log(msg: string): void {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', (e) => { if (process.env['CHAOS_DEBUG']) log(`port ${port}: ${e.message}`); res(false); });
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** A base port with the 20 ports after it free (tries a few bases). */
async function pickBase(start: number): Promise<number> {
  for (let base = start; base < start + 2000; base += 100) {
    let ok = true;
    for (let p = base; p < base + 20 && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`no free port range found from ${start}`);
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const isRoot = process.getuid?.() === 0;
function pgBin(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}
/** initdb/pg_ctl refuse to run as root: run them as the postgres system user then (like scripts/services.sh). */
/**
 * Where the cluster's Postgres keeps its data and log: the run's data directory, unless the
 * server runs as the `postgres` user (we are root) and that user cannot reach it, e.g. a
 * checkout inside a directory only root may enter (`mktemp -d` makes them 0700). Then a
 * private directory under the system's temp directory, removed with the run.
 */
function postgresHome(dataDir: string): string {
  if (!isRoot || pgRun(['test', '-x', dataDir]).status === 0) return dataDir;
  const home = mkdtempSync(join(tmpdir(), 'chat-chaos-pg-'));
  chmodSync(home, 0o755);
  return home;
}

function pgRun(args: string[]): { status: number | null; out: string } {
  const [cmd, ...rest] = isRoot ? ['runuser', '-u', 'postgres', '--', ...args] : args;
  const r = spawnSync(cmd!, rest, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/**
 * The nats-server binary the cluster runs: NATS_SERVER_BIN (scripts/services.sh writes it into
 * .data/env, which test.sh and vitest.config.ts load), else whatever `scripts/services.sh
 * nats-bin` provides (fetching Debian's package into the user's cache once). Never a server
 * older than MIN_NATS_SERVER_VERSION: the checks the run makes rely on it.
 */
export function natsServerBinary(env: NodeJS.ProcessEnv = process.env, opts: { allowOld?: boolean } = {}): { bin: string; version: string } {
  let bin = env['NATS_SERVER_BIN'];
  if (!bin) {
    const r = spawnSync('bash', [resolve(ROOT, 'scripts/services.sh'), 'nats-bin'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    bin = r.stdout.trim();
    if (r.status !== 0 || !bin) throw new Error(`no nats-server >= ${MIN_NATS_SERVER_VERSION} for the chaos cluster: \`bash scripts/services.sh nats-bin\` failed (its message is above)`);
  }
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  const version = /nats-server:\s*v?(\S+)/.exec(`${out.stdout ?? ''}`)?.[1];
  if (!natsServerSupported(version) && !(opts.allowOld && version)) {
    throw new Error(`${bin} is ${version ? `nats-server ${version}` : 'not a working nats-server'}; the chaos cluster needs >= ${MIN_NATS_SERVER_VERSION} (unset NATS_SERVER_BIN, or run \`npm run services\`)`);
  }
  return { bin, version: version! };
}

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
}

/*
 * Every child is recorded (in memory and in .data/chaos/pids): on any exit of this process
 * they are SIGKILLed, and a later run kills what a run killed with SIGKILL left behind.
 */
const children = new Set<ChildProcess>();
let pidFile: string | undefined;
let pgStopCmd: string[] | undefined;
function killAllSync(): void {
  for (const c of children) {
    try {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  children.clear();
  if (pgStopCmd) pgRun(pgStopCmd);
  pgStopCmd = undefined;
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => process.exit(130));
process.stdout.on('error', () => undefined);

function killStale(dataDir: string): void {
  const file = resolve(dataDir, 'pids');
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const pid = Number(line);
    if (!pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      // Only our own leftovers: the apps carry CHAT_NS=chaos, the servers our config/data dir.
      if (env.includes(`${CHAOS_MARK}=1\0`) || cmd.includes('.data/chaos')) process.kill(pid, 'SIGKILL');
    } catch {
      /* not running */
    }
  }
  const pg = resolve(dataDir, 'pg');
  if (existsSync(resolve(pg, 'postmaster.pid'))) pgRun([`${pgBin()}/pg_ctl`, '-D', pg, '-m', 'immediate', '-w', 'stop']);
}
const CHAOS_MARK = 'CHAOS_CHILD';

function spawnLogged(cmd: string, args: string[], logFile: WriteStream, env?: NodeJS.ProcessEnv): Proc {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...(env ?? process.env), [CHAOS_MARK]: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  if (pidFile && child.pid) appendFileSync(pidFile, `${child.pid}\n`);
  child.once('exit', () => children.delete(child));
  child.stdout!.pipe(logFile, { end: false });
  child.stderr!.pipe(logFile, { end: false });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, exited };
}

async function killHard(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  try {
    p.child.kill('SIGCONT'); // a stopped process cannot die of SIGTERM; SIGKILL works anyway
    p.child.kill('SIGKILL');
  } catch {
    /* gone already */
  }
  await p.exited;
}

export type AppKind = 'edge' | 'command' | 'projector';
export interface AppSlot {
  id: string;
  kind: AppKind;
  env: Record<string, string>;
  proc?: Proc;
  restarts: number;
  /** Set while we kill it on purpose; an exit without it is a self-exit. */
  killing?: boolean;
}

export interface Topology {
  names: Names;
  natsUrls: string[];
  natsMonitor: string[];
  databaseUrl: string;
  adminDatabaseUrl: string;
  redisUrl: string;
  edgeWsUrls: string[];
  edgeHttpUrls: string[];
  apps: AppSlot[];
  dataDir: string;
  /** Fault primitives. */
  killApp(slot: AppSlot): Promise<void>;
  startApp(slot: AppSlot): Promise<void>;
  killNats(i: number): Promise<void>;
  startNats(i: number): Promise<void>;
  stopNats(i: number): void;
  contNats(i: number): void;
  natsUp(i: number): boolean;
  restartRedisEmpty(): Promise<void>;
  restartPostgres(): Promise<void>;
  /** True when every app process is alive. */
  appsAlive(): boolean;
  /** Apps that exited on their own (a supervisor restarts them after 1 s, as systemd/k8s would). */
  selfExits: Array<{ id: string; code: number | null; at: string; lastLog: string }>;
  /** Restarts whatever app died on its own; returns their ids. */
  reviveDeadApps(): Promise<string[]>;
  waitEdgesReady(): Promise<void>;
  stop(): Promise<void>;
}

type TopologyOptions = { portBase?: number; edges?: number; commands?: number; keepData?: boolean };

export async function startTopology(opts: TopologyOptions = {}): Promise<Topology> {
  try {
    return await startTopologyInner(opts);
  } catch (e) {
    killAllSync();
    throw e;
  }
}

/** A run's port range (20 ports from `base`) and data directory (.data/chaos/<base>), with a log file per process. */
export interface RunDir {
  base: number;
  dataDir: string;
  logFor(name: string): WriteStream;
  closeLogs(): void;
}

export async function prepareRunDir(portBase = 24000): Promise<RunDir> {
  const base = await pickBase(portBase);
  // One directory per port range: two runs (e.g. `npm run chaos` and the quick test) can coexist.
  const dataDir = resolve(ROOT, '.data/chaos', String(base));
  killStale(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(resolve(dataDir, 'logs'), { recursive: true });
  pidFile = resolve(dataDir, 'pids');
  const logs = new Map<string, WriteStream>();
  log(`topology: ports ${base}..${base + 19}, data in ${dataDir}`);
  return {
    base,
    dataDir,
    logFor(name) {
      let s = logs.get(name);
      if (!s) logs.set(name, (s = createWriteStream(resolve(dataDir, 'logs', `${name}.log`), { flags: 'a' })));
      return s;
    },
    closeLogs() {
      for (const s of logs.values()) s.end();
    },
  };
}

/** Three nats-server nodes in one JetStream cluster, on ports base..base+8, with fault primitives per node. */
export interface NatsCluster {
  urls: string[];
  monitor: string[];
  version: string;
  start(i: number): Promise<void>;
  kill(i: number): Promise<void>;
  stop(i: number): void;
  cont(i: number): void;
  up(i: number): boolean;
  /** Kills every node; `removeData` also deletes their stores. */
  shutdown(removeData: boolean): Promise<void>;
}

export async function startNatsCluster(run: RunDir, server: { bin: string; version: string } = natsServerBinary()): Promise<NatsCluster> {
  const { base, dataDir } = run;
  const clientPort = (i: number) => base + i;
  const clusterPort = (i: number) => base + 3 + i;
  const monitorPort = (i: number) => base + 6 + i;
  const procs: Array<Proc | undefined> = [];
  const stopped = new Set<number>();
  const conf = (i: number) => resolve(dataDir, `nats-${i + 1}.conf`);
  for (let i = 0; i < 3; i++) {
    const routes = [0, 1, 2].filter((j) => j !== i).map((j) => `nats-route://127.0.0.1:${clusterPort(j)}`);
    writeFileSync(
      conf(i),
      [
        `server_name: n${i + 1}`,
        `listen: 127.0.0.1:${clientPort(i)}`,
        `http: 127.0.0.1:${monitorPort(i)}`,
        `jetstream { store_dir: "${resolve(dataDir, `nats-${i + 1}`)}" }`,
        `cluster {`,
        `  name: chaos`,
        `  listen: 127.0.0.1:${clusterPort(i)}`,
        `  routes: [${routes.join(', ')}]`,
        `}`,
        '',
      ].join('\n'),
    );
  }
  log(`NATS cluster: nats-server ${server.version} (${server.bin})`);
  const start = async (i: number) => {
    procs[i] = spawnLogged(server.bin, ['-c', conf(i)], run.logFor(`nats-${i + 1}`));
    stopped.delete(i);
    await waitFor(`nats n${i + 1}`, async () => (await fetch(`http://127.0.0.1:${monitorPort(i)}/healthz?js-enabled-only=true`)).ok, 30_000);
  };
  await Promise.all([0, 1, 2].map((i) => start(i)));
  return {
    urls: [0, 1, 2].map((i) => `nats://127.0.0.1:${clientPort(i)}`),
    monitor: [0, 1, 2].map((i) => `http://127.0.0.1:${monitorPort(i)}`),
    version: server.version,
    start,
    async kill(i) {
      await killHard(procs[i]);
      stopped.delete(i);
    },
    stop(i) {
      procs[i]?.child.kill('SIGSTOP');
      stopped.add(i);
    },
    cont(i) {
      procs[i]?.child.kill('SIGCONT');
      stopped.delete(i);
    },
    up(i) {
      const p = procs[i];
      return !!p && p.child.exitCode === null && p.child.signalCode === null && !stopped.has(i);
    },
    async shutdown(removeData) {
      await Promise.all(procs.map((p) => killHard(p)));
      if (removeData) for (let i = 0; i < 3; i++) rmSync(resolve(dataDir, `nats-${i + 1}`), { recursive: true, force: true });
    },
  };
}

async function startTopologyInner(opts: TopologyOptions): Promise<Topology> {
  const run = await prepareRunDir(opts.portBase ?? 24000);
  const { base, dataDir, logFor } = run;

  // ---------------------------------------------------------------- NATS: 3 nodes, one cluster
  const pgPort = base + 10;
  const redisPort = base + 11;
  const edgePort = (i: number) => base + 12 + i;
  const nats = await startNatsCluster(run);
  const natsUrls = nats.urls;

  // ------------------------------------------------------------------------------- Postgres
  const pgHome = postgresHome(dataDir);
  const pgData = resolve(pgHome, 'pg');
  const pgLog = resolve(pgHome === dataDir ? resolve(dataDir, 'logs') : pgHome, 'postgres.log');
  mkdirSync(pgData, { recursive: true });
  writeFileSync(pgLog, '');
  if (isRoot) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const uid = Number(pw.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(pgData, uid, gid);
    chmodSync(pgData, 0o700);
    chownSync(pgLog, uid, gid);
  }
  const bin = pgBin();
  let r = pgRun([`${bin}/initdb`, '-D', pgData, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  if (r.status !== 0) throw new Error(`initdb failed: ${r.out}`);
  r = pgRun([`${bin}/pg_ctl`, '-D', pgData, '-l', pgLog, '-w', '-t', '60', '-o', `-p ${pgPort} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300`, 'start']);
  if (r.status !== 0) throw new Error(`pg_ctl start failed: ${r.out}`);
  pgStopCmd = [`${bin}/pg_ctl`, '-D', pgData, '-m', 'immediate', '-w', 'stop'];
  const adminDatabaseUrl = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
  const databaseUrl = withDatabase(adminDatabaseUrl, `chat_${NS}`);
  await createDatabase(databaseUrl);
  await migrate(databaseUrl);

  // ---------------------------------------------------------------------------------- Redis
  const redisDir = resolve(dataDir, 'redis');
  mkdirSync(redisDir, { recursive: true });
  let redisProc: Proc | undefined;
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const startRedis = async () => {
    // No persistence: a restart comes back empty, which is the fault we want.
    redisProc = spawnLogged('redis-server', ['--bind', '127.0.0.1', '--port', String(redisPort), '--dir', redisDir, '--save', '', '--appendonly', 'no'], logFor('redis'));
    await waitFor('redis', async () => spawnSync('redis-cli', ['-p', String(redisPort), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 20_000);
  };
  await startRedis();

  // ------------------------------------------------------------------------ streams, R3
  const names = namesFor(NS);
  const edgeCount = opts.edges ?? 2;
  const edgeIds = Array.from({ length: edgeCount }, (_, i) => `chaos-e${i + 1}`);
  await waitFor(
    'JetStream cluster to accept R3 streams',
    async () => {
      await withNats(natsUrls.join(','), (nats) => applyStreams(nats.jsm, names, { replicas: 3, maxAgeMs: THIRTY_DAYS_MS }, edgeIds));
      return true;
    },
    60_000,
  );
  log('NATS cluster up, streams applied with 3 replicas');

  // ----------------------------------------------------------------------------------- apps
  const common: Record<string, string> = {
    NATS_URL: natsUrls.join(','),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    CHAT_NS: NS,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
    CHAT_STREAM_REPLICAS: '3',
    CHAT_MAX_AGE: '30d',
    CHAT_SWEEP_INTERVAL: '0',
    CHAT_DRAIN_GRACE: '1s',
    CHAT_PG_POOL: '8',
    // Several of each app on one host: each ops server on a free port.
    CHAT_OPS_PORT: '0',
    // The workload is many clients on one loopback host: far above any per-user limit.
    ...TEST_LIMITS,
    // Media storage as scripts/services.sh chose it (the local S3 server unless S3_ENDPOINT is set).
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('S3_') && e[1] !== undefined)),
  };
  const apps: AppSlot[] = [
    // No command processes: the edges host the command tier and share its partitions.
    ...edgeIds.map((id, i): AppSlot => ({ id, kind: 'edge', env: { ...common, EDGE_ID: id, CHAT_EDGE_PORT: String(edgePort(i)), ...(opts.commands === 0 ? { CHAT_EDGE_COMMANDS: 'hosted' } : {}) }, restarts: 0 })),
    ...Array.from({ length: opts.commands ?? 2 }, (_, i): AppSlot => ({ id: `command-${i + 1}`, kind: 'command', env: common, restarts: 0 })),
    // The projector at info: its log then says from where it reads after every fault (checkpoint, start).
    { id: 'projector', kind: 'projector', env: { ...common, LOG_LEVEL: 'info' }, restarts: 0 },
  ];
  const edgeHttpUrls = edgeIds.map((_, i) => `http://127.0.0.1:${edgePort(i)}`);
  const startApp = async (slot: AppSlot) => {
    const lf = logFor(slot.id);
    lf.write(`--- start ${new Date().toISOString()}\n`);
    const proc = spawnLogged(process.execPath, ['--import', 'tsx', resolve(ROOT, `apps/${slot.kind}/src/main.ts`)], lf, { ...process.env, ...slot.env });
    slot.proc = proc;
    const tail: string[] = [];
    proc.child.stderr!.on('data', (b: Buffer) => {
      tail.push(b.toString());
      if (tail.length > 5) tail.shift();
    });
    proc.child.once('exit', (code) => {
      if (slot.killing || slot.proc !== proc || shuttingDown) return;
      const lastLog = tail.join('').slice(-600);
      selfExits.push({ id: slot.id, code, at: new Date().toISOString(), lastLog });
      log(`app ${slot.id} exited on its own (code ${code}); the supervisor restarts it in 1 s`);
      setTimeout(() => {
        if (!shuttingDown && slot.proc === proc) void startApp(slot).catch((e: unknown) => log(`restart of ${slot.id} failed: ${String(e)}`));
      }, 1_000);
    });
    if (slot.kind === 'edge') {
      const url = `http://127.0.0.1:${slot.env['CHAT_EDGE_PORT']}/readyz`;
      await waitFor(`${slot.id} /readyz`, async () => (await fetch(url)).ok, 60_000);
    }
  };
  await Promise.all(apps.map((a) => startApp(a)));
  log(`apps up: ${apps.map((a) => a.id).join(', ')}`);

  const selfExits: Topology['selfExits'] = [];
  let shuttingDown = false;
  const alive = (s: AppSlot) => !!s.proc && s.proc.child.exitCode === null && s.proc.child.signalCode === null;

  const topo: Topology = {
    names,
    natsUrls,
    natsMonitor: nats.monitor,
    databaseUrl,
    adminDatabaseUrl,
    redisUrl,
    edgeWsUrls: edgeIds.map((_, i) => `ws://127.0.0.1:${edgePort(i)}/v1/ws`),
    edgeHttpUrls,
    apps,
    dataDir,
    async killApp(slot) {
      slot.killing = true;
      await killHard(slot.proc);
    },
    async startApp(slot) {
      slot.restarts++;
      slot.killing = false;
      await startApp(slot);
    },
    selfExits,
    killNats: (i) => nats.kill(i),
    startNats: (i) => nats.start(i),
    stopNats: (i) => nats.stop(i),
    contNats: (i) => nats.cont(i),
    natsUp: (i) => nats.up(i),
    async restartRedisEmpty() {
      await killHard(redisProc);
      rmSync(resolve(redisDir, 'dump.rdb'), { force: true });
      await startRedis();
    },
    async restartPostgres() {
      const res = pgRun([`${bin}/pg_ctl`, '-D', pgData, '-l', pgLog, '-m', 'fast', '-w', '-t', '60', 'restart']);
      if (res.status !== 0) throw new Error(`pg_ctl restart failed: ${res.out}`);
    },
    appsAlive: () => apps.every(alive),
    async reviveDeadApps() {
      // Only those the supervisor is not already restarting (killed by us and not restarted).
      const dead = apps.filter((a) => !alive(a) && a.killing);
      for (const d of dead) {
        log(`app ${d.id} exited on its own (code ${d.proc?.child.exitCode}, signal ${d.proc?.child.signalCode}); restarting`);
        await topo.startApp(d);
      }
      return dead.map((d) => d.id);
    },
    async waitEdgesReady() {
      for (const u of edgeHttpUrls) await waitFor(`${u}/readyz`, async () => (await fetch(`${u}/readyz`)).ok, 60_000);
    },
    async stop() {
      shuttingDown = true;
      await Promise.all(apps.map((a) => killHard(a.proc)));
      await nats.shutdown(!opts.keepData);
      await killHard(redisProc);
      pgRun([`${bin}/pg_ctl`, '-D', pgData, '-m', 'immediate', '-w', 'stop']);
      pgStopCmd = undefined;
      run.closeLogs();
      if (!opts.keepData) rmSync(pgHome === dataDir ? pgData : pgHome, { recursive: true, force: true });
    },
  };
  return topo;
}
