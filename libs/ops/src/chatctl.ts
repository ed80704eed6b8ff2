import { Command, InvalidArgumentError, Option } from 'commander';
import { configWarnings, names } from '@chat/contracts';
import type { Nats } from '@chat/nats';
import { loadOpsConfig } from './config';
import { rebuildConversationCacheFromEnv } from './cache';
import { createDatabase, databaseName } from './database';
import { deadLetterIds, listDeadLetters, replayDeadLetters } from './dlq';
import { migrate } from './migrate';
import { applyAll, consumersReport, streamReport, streamSettings, streamsReport, withNats } from './streams';
import { registerEventsCommand } from './events';
import { clusterCell, formatAgo } from './report';
import { formatTable } from './table';
import { mintToken } from './token';
import { fixProjections, projectionsStatus } from './projections';
import { parseProjectionKeys } from '@chat/postgres';
import { registerRebuildCommand } from './shadow';

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

/**
 * For the commands that only look (streams info, consumers, events, dlq list): a server older
 * than the minimum is reported on stderr, and the command still runs. Those that change
 * something (streams apply, dlq replay) refuse it.
 */
/** Runs `show` once, or with `--watch` again every few seconds (clearing the terminal) until interrupted. */
async function repeat(watch: number | true | undefined, show: () => Promise<unknown>): Promise<void> {
  if (watch === undefined) {
    await show();
    return;
  }
  const everyMs = (watch === true ? 2 : watch) * 1000;
  for (;;) {
    if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    console.log(new Date().toISOString());
    await show();
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A read-only report command (`chatctl consumers`, `chatctl streams report`): the rows of the
 * namespace as a table, or with `--json` as one JSON array, once or with `--watch` repeatedly.
 */
function reportCommand<R>(
  cmd: Command,
  jsonHelp: string,
  load: (jsm: Nats['jsm'], n: ReturnType<typeof names>) => Promise<R[]>,
  empty: (ns: string) => string,
  table: (rows: R[]) => string,
): void {
  cmd
    .option('--json', jsonHelp)
    .addOption(new Option('--watch [seconds]', 'print again every few seconds (default 2)').argParser(positiveInt))
    .action(async (o: { json?: boolean; watch?: number | true }) => {
      const cfg = loadOpsConfig();
      await repeat(o.watch, () =>
        withNats(
          cfg.NATS_URL,
          async (nats) => {
            const rows = await load(nats.jsm, names(cfg.CHAT_NS));
            console.log(o.json ? JSON.stringify(rows) : rows.length ? table(rows) : empty(cfg.CHAT_NS));
          },
          inspectOnly,
        ),
      );
    });
}

const inspectOnly = { onOldServer: (message: string) => console.error(`chatctl: warning: ${message}`) };

const program = new Command('chatctl')
  .description('Operate the chat backend. Connection settings come from NATS_URL, DATABASE_URL, CHAT_NS, … (see README).')
  .showHelpAfterError();

program
  .command('token')
  .description('print a client token (HS256 JWT) for a user')
  .argument('<userId>')
  .option('--device <id>', 'device id (the did claim)', 'default')
  .option('--ttl <duration>', 'lifetime, e.g. 30m, 24h, 7d', '24h')
  .option('--secret <secret>', 'signing secret (default: CHAT_JWT_SECRET, then the development secret)')
  .action(async (userId: string, o: { device: string; ttl: string; secret?: string }) => {
    console.log(await mintToken({ userId, deviceId: o.device, ttl: o.ttl, ...(o.secret ? { secret: o.secret } : {}) }));
  });

program
  .command('db')
  .description('database administration')
  .command('create')
  .description('create the database named in DATABASE_URL if it is missing')
  .action(async () => {
    const url = loadOpsConfig().DATABASE_URL;
    console.log(`database ${databaseName(url)}: ${await createDatabase(url)}`);
  });

program
  .command('migrate')
  .description('apply (up) or revert the last (down) read-model migration')
  .addArgument(new Command().createArgument('[direction]', 'up or down').choices(['up', 'down']).default('up'))
  .action(async (direction: 'up' | 'down') => {
    const ran = await migrate(loadOpsConfig().DATABASE_URL, { direction });
    console.log(ran.length ? ran.map((m) => `${direction}: ${m}`).join('\n') : 'migrations: nothing to do');
  });

const streams = program.command('streams').description('JetStream streams and consumers as code');

streams
  .command('apply')
  .description('create or update every stream and consumer of the namespace (never deletes data)')
  .option('--edge <id...>', 'also create the delivery consumer of these edges')
  .action(async (o: { edge?: string[] }) => {
    const cfg = loadOpsConfig();
    const settings = streamSettings();
    for (const w of configWarnings({ CHAT_MAX_AGE: settings.maxAgeMs })) console.error(`warning: ${w}`);
    const report = await applyAll({ natsUrl: cfg.NATS_URL, ns: cfg.CHAT_NS, settings, edgeIds: o.edge ?? [] });
    const rows = [
      ...report.streams.map((s) => ({ kind: 'stream', stream: s.name, name: s.name, action: s.action })),
      ...report.buckets.map((b) => ({ kind: 'kv bucket', stream: `KV_${b.name}`, name: b.name, action: b.action })),
      ...report.consumers.map((c) => ({ kind: 'consumer', stream: c.stream, name: c.name, action: c.action })),
    ];
    console.log(formatTable(rows, [['kind', 'KIND'], ['stream', 'STREAM'], ['name', 'NAME'], ['action', 'ACTION']]));
  });

reportCommand(
  streams.command('report', { isDefault: true }).description('every stream of the namespace as `nats stream report` shows it (the default)'),
  'one JSON array of objects',
  (jsm, n) => streamReport(jsm, n),
  (ns) => `no streams for namespace "${ns}"; run: chatctl streams apply`,
  (rows) =>
    formatTable(
      rows.map((r) => ({ ...r, first: r.firstTime ?? '-', last: r.lastTime ?? '-', clusterText: clusterCell(r.cluster) })),
      [
        ['stream', 'STREAM'],
        ['storage', 'STORAGE'],
        ['consumers', 'CONSUMERS'],
        ['messages', 'MESSAGES'],
        ['bytes', 'BYTES'],
        ['lostMessages', 'LOST'],
        ['deleted', 'DELETED'],
        ['first', 'FIRST'],
        ['last', 'LAST'],
        ['replicas', 'R'],
        ['clusterText', 'CLUSTER'],
      ],
    ),
);

streams
  .command('info')
  .description('settings and state of every stream of the namespace')
  .action(async () => {
    const cfg = loadOpsConfig();
    const rows = await withNats(cfg.NATS_URL, (n) => streamsReport(n.jsm, names(cfg.CHAT_NS)), inspectOnly);
    if (!rows.length) return console.log(`no streams for namespace "${cfg.CHAT_NS}"; run: chatctl streams apply`);
    console.log(
      formatTable(rows, [
        ['stream', 'STREAM'],
        ['subjects', 'SUBJECTS'],
        ['retention', 'RETENTION'],
        ['storage', 'STORAGE'],
        ['replicas', 'R'],
        ['maxAge', 'MAX AGE'],
        ['messages', 'MESSAGES'],
        ['bytes', 'BYTES'],
        ['firstSeq', 'FIRST SEQ'],
        ['lastSeq', 'LAST SEQ'],
        ['consumers', 'CONSUMERS'],
      ]),
    );
  });

reportCommand(
  program
    .command('consumers')
    .description('every consumer of the namespace as `nats consumer report` shows it; expected ones that do not exist are listed as missing'),
  'one JSON array of objects (stream, consumer, ackPolicy, ackWaitMs, numAckPending, maxAckPending, numRedelivered, numPending, unprocessedPct, ackFloorStreamSeq, numWaiting, lastDeliveryAgoMs, lastAckAgoMs, cluster)',
  (jsm, n) => consumersReport(jsm, n),
  (ns) => `no consumers for namespace "${ns}"`,
  (rows) =>
    formatTable(
      rows.map((r) => ({
        ...r,
        consumer: r.missing ? `${r.consumer} (MISSING)` : r.consumer,
        ackWait: r.ackWaitMs === null ? '-' : formatAgo(r.ackWaitMs),
        ackPending: r.maxAckPending === null ? String(r.numAckPending) : `${r.numAckPending} / ${r.maxAckPending}`,
        unprocessed: `${r.numPending} / ${r.unprocessedPct}%`,
        lastDelivery: formatAgo(r.lastDeliveryAgoMs),
        lastAck: formatAgo(r.lastAckAgoMs),
        clusterText: clusterCell(r.cluster),
      })),
      [
        ['stream', 'STREAM'],
        ['consumer', 'CONSUMER'],
        ['ackPolicy', 'ACK POLICY'],
        ['ackWait', 'ACK WAIT'],
        ['ackPending', 'ACK PENDING'],
        ['numRedelivered', 'REDELIVERED'],
        ['unprocessed', 'UNPROCESSED'],
        ['ackFloorStreamSeq', 'ACK FLOOR'],
        ['numWaiting', 'WAITING PULLS'],
        ['lastDelivery', 'LAST DELIVERY'],
        ['lastAck', 'LAST ACK'],
        ['clusterText', 'CLUSTER'],
      ],
    ),
);

registerEventsCommand(program);

program
  .command('cache')
  .description('the Redis caches')
  .command('rebuild')
  .description('reload the conversation lists (every user, or one) from Postgres into Redis')
  .option('--user <id>', 'only this user')
  .action(async (o: { user?: string }) => {
    const r = await rebuildConversationCacheFromEnv(loadOpsConfig(), o.user !== undefined ? { userId: o.user } : {});
    console.log(`conversation lists: ${r.users} user(s), ${r.entries} entr${r.entries === 1 ? 'y' : 'ies'} loaded`);
  });

const projections = program.command('projections').description('the read models: positions, rebuild, reset');

projections
  .command('status', { isDefault: true })
  .description('each projection\'s checkpoint against CHAT_EVENTS (behind, or past the end of a re-created stream)')
  .option('--json', 'JSON')
  .action(async (o: { json?: boolean }) => {
    const cfg = loadOpsConfig();
    const s = await withNats(cfg.NATS_URL, (nats) => projectionsStatus(nats, names(cfg.CHAT_NS), cfg.DATABASE_URL), inspectOnly);
    if (o.json) return console.log(JSON.stringify(s));
    console.log(
      formatTable(s.rows, [
        ['projection', 'PROJECTION'],
        ['position', 'CHECKPOINT'],
        ['sideEffects', 'SIDE EFFECTS'],
        ['streamLast', 'STREAM LAST'],
        ['behind', 'BEHIND'],
        ['state', 'STATE'],
      ]),
    );
    if (s.fix) {
      console.error(`\na checkpoint is past the end of the stream: the projector refuses to run. Fix: ${s.fix}`);
      process.exitCode = 2;
    }
  });

for (const [how, what] of [
  ['rebuild', 'empty the projections and re-apply everything CHAT_EVENTS holds (stop the projector first)'],
  ['reset', 'empty the projections and start them with the stream as it is now, e.g. a re-created one (stop the projector first)'],
] as const) {
  projections
    .command(how)
    .description(what)
    .argument('[projections...]', 'messages, receipts, conversations, preferences (default: all)')
    .action(async (keys: string[]) => {
      const cfg = loadOpsConfig();
      const list = keys.length ? parseProjectionKeys(keys.join(',')) : undefined;
      await withNats(cfg.NATS_URL, (nats) => fixProjections(nats, names(cfg.CHAT_NS), cfg.DATABASE_URL, how, list, { redisUrl: cfg.REDIS_URL }));
      console.log(`${how}: done; the projector applies the stream when it starts`);
    });
}

registerRebuildCommand(program);

const dlq = program.command('dlq').description('dead letters (CHAT_DLQ): messages a consumer gave up on');

dlq
  .command('list')
  .description('list dead letters, oldest first: id (CHAT_DLQ seq), original stream/subject/seq, consumer, deliveries, error, time')
  .option('--consumer <name>', 'only this consumer (projector, edge-<id>, …)')
  .addOption(new Option('--limit <n>', 'at most n entries').argParser(positiveInt))
  .option('--json', 'JSON lines, with the original payload (base64) and headers')
  .action(async (o: { consumer?: string; limit?: number; json?: boolean }) => {
    const cfg = loadOpsConfig();
    const rows = await withNats(
      cfg.NATS_URL,
      (n) => listDeadLetters(n.js, names(cfg.CHAT_NS), { ...(o.consumer ? { consumer: o.consumer } : {}), ...(o.limit ? { limit: o.limit } : {}) }),
      inspectOnly,
    );
    if (o.json) {
      for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    if (!rows.length) return console.log('no dead letters');
    const table = rows.map((r) => ({ ...r, error: r.error.length > 80 ? `${r.error.slice(0, 77)}...` : r.error, skipped: r.skipped ? 'yes' : '' }));
    console.log(
      formatTable(table, [
        ['id', 'ID'],
        ['stream', 'STREAM'],
        ['subject', 'SUBJECT'],
        ['seq', 'SEQ'],
        ['consumer', 'CONSUMER'],
        ['deliveries', 'DELIVERIES'],
        ['skipped', 'SKIPPED'],
        ['time', 'TIME'],
        ['error', 'ERROR'],
      ]),
    );
  });

dlq
  .command('replay')
  .description('republish commands and frames to their original subject, then delete the entries (projection entries: after a rebuild, with --rebuilt)')
  .argument('[ids...]', 'entry ids (from dlq list)')
  .option('--all', 'every entry (of --consumer, if given)')
  .option('--consumer <name>', 'with --all: only this consumer')
  .option('--rebuilt', 'the projections of the chosen entries have been rebuilt: just remove their entries')
  .action(async (ids: string[], o: { all?: boolean; consumer?: string; rebuilt?: boolean }) => {
    if (!o.all && !ids.length) throw new InvalidArgumentError('give entry ids or --all');
    if (o.all && ids.length) throw new InvalidArgumentError('give entry ids or --all, not both');
    const cfg = loadOpsConfig();
    const n = names(cfg.CHAT_NS);
    const results = await withNats(cfg.NATS_URL, async (nats) => {
      const chosen = o.all ? await deadLetterIds(nats.js, n, o.consumer) : ids.map((id) => positiveInt(id));
      return replayDeadLetters(nats.js, n, chosen, { rebuilt: o.rebuilt === true });
    });
    if (!results.length) return console.log('no dead letters');
    console.log(formatTable(results, [['id', 'ID'], ['consumer', 'CONSUMER'], ['outcome', 'OUTCOME'], ['detail', 'DETAIL']]));
    if (results.some((r) => r.outcome === 'needs-rebuild')) process.exitCode = 2;
  });

try {
  await program.parseAsync();
} catch (e) {
  console.error(`chatctl: ${(e as Error).message}`);
  process.exitCode = 1;
}
