/**
 * Generator for the `connections` scenario: opens `count` idle WebSocket connections (users
 * `cn<offset+i>-<runId>`) to one edge, each confirmed by its `hello`, spread over the given
 * local source addresses (each has its own ephemeral port range). Raw `ws` sockets, not the
 * SDK: an idle connection here is the cheapest possible client, so the figure is the edge's.
 * Then it arrives at the file barrier in `barrierDir`, holds the sockets until the scenario
 * writes `release` (it reads the edge's memory meanwhile), and reports how many are still open.
 *
 * args: { wsUrl, jwtSecret, count, offset?, runId, shard?, localAddresses?, concurrency?, barrierDir?, holdTimeoutMs? }
 */
import WebSocket from 'ws';
import { barrier, nowMs, pool, progress, readArgs, round, runMain, signToken } from './lib/common';

interface Args {
  wsUrl: string;
  jwtSecret: string;
  count: number;
  offset?: number;
  runId: string;
  shard?: number;
  localAddresses?: string[];
  concurrency?: number;
  barrierDir?: string;
  holdTimeoutMs?: number;
  connectTimeoutMs?: number;
}

runMain(async () => {
  const a = readArgs<Args>();
  const shard = a.shard ?? 0;
  const offset = a.offset ?? 0;
  const addrs = a.localAddresses?.length ? a.localAddresses : [undefined];
  const tag = `connections[${shard}]`;

  const tokens = await Promise.all(Array.from({ length: a.count }, (_, i) => signToken(a.jwtSecret, `cn${offset + i}-${a.runId}`, 'd1')));
  const sockets: WebSocket[] = [];
  const failures = new Map<string, number>();
  const fail = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
  let hellos = 0;
  let closedAfterHello = 0;
  const closeCodes = new Map<number, number>();

  const open = (i: number) =>
    new Promise<void>((resolve) => {
      const addr = addrs[i % addrs.length];
      const ws = new WebSocket(`${a.wsUrl}?access_token=${encodeURIComponent(tokens[i]!)}`, {
        perMessageDeflate: false,
        handshakeTimeout: a.connectTimeoutMs ?? 30_000,
        ...(addr ? { localAddress: addr } : {}),
      });
      let greeted = false;
      let settled = false;
      const settle = (why?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (why) fail(why);
        resolve();
      };
      const timer = setTimeout(() => {
        settle('no hello in time');
        ws.terminate();
      }, a.connectTimeoutMs ?? 30_000);
      ws.on('message', (data) => {
        if (greeted) return;
        try {
          if ((JSON.parse(String(data)) as { type?: string }).type === 'hello') {
            greeted = true;
            hellos++;
            sockets.push(ws);
            settle();
          }
        } catch {
          /* not a chat frame */
        }
      });
      ws.on('unexpected-response', (_req, res) => {
        settle(`http ${res.statusCode}`);
        ws.terminate();
      });
      ws.on('error', (e: NodeJS.ErrnoException) => settle(e.code ?? e.message));
      ws.on('close', (code) => {
        if (greeted) {
          closedAfterHello++;
          closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
        }
        settle(`closed ${code} before hello`);
      });
    });

  const t0 = nowMs();
  let done = 0;
  await pool(
    Array.from({ length: a.count }, (_, i) => i),
    a.concurrency ?? 100,
    async (i) => {
      await open(i);
      if (++done % 1000 === 0) progress(`${tag}: ${done}/${a.count} attempted, ${hellos} open`);
    },
  );
  const t1 = nowMs();
  progress(`${tag}: ${hellos}/${a.count} open in ${((t1 - t0) / 1000).toFixed(1)} s${failures.size ? `; failures ${JSON.stringify(Object.fromEntries(failures))}` : ''}`);

  let released = true;
  if (a.barrierDir) {
    barrier.arrive(a.barrierDir, `shard-${shard}`, { hellos, failed: a.count - hellos });
    released = await barrier.waitReleased(a.barrierDir, a.holdTimeoutMs ?? 300_000);
  }
  const stillOpen = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  for (const s of sockets) s.terminate();
  return {
    shard,
    attempted: a.count,
    hellos,
    open: stillOpen,
    closedAfterHello,
    closeCodes: Object.fromEntries(closeCodes),
    failures: Object.fromEntries(failures),
    startedAt: t0,
    connectedAt: t1,
    connectSeconds: round((t1 - t0) / 1000, 2),
    released,
  };
});
