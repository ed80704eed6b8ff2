import { Command, InvalidArgumentError, Option } from 'commander';
import { names } from '@chat/contracts';
import { loadOpsConfig } from '../config';
import { withNats } from '../streams';
import { openArchiveSource } from './archiveSource';
import { exportEvents, type ExportOptions, type ExportResult } from './export';
import { openLiveSource } from './live';
import { buildFilter, EVENT_TYPES, PlanError } from './plan';
import { Progress } from './progress';
import { createS3, loadArchiveLocationConfig, parseS3Url, type S3Location } from './s3';
import { fileTarget, s3Target, stdoutTarget, type Target } from './sinks';

interface EventsFlags {
  from?: number;
  fromSeq?: number;
  toSeq?: number;
  since?: string;
  until?: string;
  type?: string[];
  conversation?: string;
  subject?: string;
  limit?: number;
  follow?: boolean;
  out?: string;
  gzip?: boolean;
  resume?: boolean;
  fromArchive?: string | true;
}

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

/** Exit status of an export that completed but met events it could not parse. */
export const EXIT_BAD_EVENTS = 2;
const EXIT_INTERRUPTED = 130;

/** `chatctl events`: CHAT_EVENTS (or its archive) as NDJSON, to stdout, a file or S3. */
export function registerEventsCommand(program: Command): Command {
  return program
    .command('events')
    .description(
      'export CHAT_EVENTS as NDJSON lines {seq, subject, time, event}, oldest first, each event upcast by the contracts; ' +
        'to stdout, a file (.gz: gzipped) or S3 (docs/analytics.md)',
    )
    .addOption(new Option('--from-seq <seq>', 'first stream sequence').argParser(positiveInt))
    .addOption(new Option('--from <seq>', 'same as --from-seq').argParser(positiveInt))
    .addOption(new Option('--to-seq <seq>', 'last stream sequence').argParser(positiveInt))
    .option('--since <time>', 'events stored at or after: an ISO time (2025-03-01T12:00:00Z; no offset = local time) or a duration ago (30m, 2h, 7d)')
    .option('--until <time>', 'events stored before (same forms as --since)')
    .addOption(new Option('--type <type...>', 'only these event types (also comma separated)').argParser(collectTypes))
    .option('--conversation <id>', "only one conversation's events: its own, its members' receipts and preferences")
    .option('--subject <filter>', 'a raw subject filter instead, e.g. chat.evt.rcpt.> (the namespace is added)')
    .addOption(new Option('--limit <n>', 'stop after writing n events').argParser(positiveInt))
    .option('--follow', 'keep waiting for new events (not with s3:// output or --from-archive)')
    .option('--out <target>', 'a file (a .gz name gzips it) or s3://bucket/prefix (one object, events-<from>-<to>.ndjson[.gz]); default stdout')
    .option('--gzip', 'gzip the output whatever its name')
    .option('--resume', 'continue the --out file or S3 prefix after what it already holds')
    .option('--from-archive [s3url]', 'read the S3 archive (apps/archive) instead of the stream; default s3://<CHAT_ARCHIVE_BUCKET or S3_BUCKET>/<CHAT_ARCHIVE_PREFIX>')
    .addHelpText('after', `\nEvent types: ${EVENT_TYPES.join(', ')}\nExit status: 0 done, 1 failed, ${EXIT_BAD_EVENTS} done but some events did not parse (each reported on stderr), 130 interrupted.`)
    .action(async (o: EventsFlags) => {
      try {
        await runEvents(o);
      } catch (e) {
        if (e instanceof PlanError) throw new InvalidArgumentError(e.message);
        throw e;
      }
    });
}

function collectTypes(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((t) => t.trim()).filter(Boolean)];
}

async function runEvents(o: EventsFlags): Promise<void> {
  if (o.from !== undefined && o.fromSeq !== undefined) throw new PlanError('--from is --from-seq: give one of them');
  const toS3 = o.out?.startsWith('s3://') === true;
  if (o.resume && !o.out) throw new PlanError('--resume needs --out (a file or s3://bucket/prefix)');
  if (o.follow && toS3) throw new PlanError('--follow cannot write to S3: an object is complete only when the export ends; use --resume runs instead');
  if (o.follow && o.fromArchive) throw new PlanError('--follow reads the live stream, not --from-archive');
  if (o.limit !== undefined && toS3) throw new PlanError('--limit with an s3:// output: the object is named by its seq range before it is written; bound it with --to-seq or --until');

  const cfg = loadOpsConfig();
  const n = names(cfg.CHAT_NS);
  const fromSeq = o.fromSeq ?? o.from;
  const filter = buildFilter(n, {
    ...(fromSeq !== undefined ? { fromSeq } : {}),
    ...(o.toSeq !== undefined ? { toSeq: o.toSeq } : {}),
    ...(o.since !== undefined ? { since: o.since } : {}),
    ...(o.until !== undefined ? { until: o.until } : {}),
    ...(o.type ? { types: o.type } : {}),
    ...(o.conversation !== undefined ? { conversation: o.conversation } : {}),
    ...(o.subject !== undefined ? { subject: o.subject } : {}),
  });

  const needS3 = toS3 || o.fromArchive !== undefined;
  const s3cfg = needS3 ? loadArchiveLocationConfig() : undefined;
  const s3 = s3cfg ? createS3(s3cfg) : undefined;
  const gz = o.gzip === true || (!toS3 && o.out?.endsWith('.gz') === true);
  const target: Target = !o.out || o.out === '-' ? stdoutTarget(gz) : toS3 ? s3Target(s3!, parseS3Url(o.out), gz, o.resume === true) : fileTarget(o.out, gz, o.resume === true);

  const progress = new Progress();
  let archiveBad = 0;
  const warn = (m: string) => progress.log(`chatctl: ${m}`);
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(EXIT_INTERRUPTED);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that went away (`| head`) ends the export quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });

  const common: Omit<ExportOptions, 'openSource' | 'timeOrdered'> = {
    names: n,
    filter,
    target,
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    progress,
    onBad: warn,
    signal: abort.signal,
  };
  let result: ExportResult;
  try {
    if (o.fromArchive !== undefined) {
      const loc: S3Location = o.fromArchive === true ? { bucket: s3cfg!.CHAT_ARCHIVE_BUCKET ?? s3cfg!.S3_BUCKET, prefix: s3cfg!.CHAT_ARCHIVE_PREFIX } : parseS3Url(o.fromArchive);
      result = await exportEvents({
        ...common,
        timeOrdered: false,
        openSource: (after) =>
          openArchiveSource(s3!, loc, cfg.CHAT_NS, filter, {
            after,
            onBadLine: (m) => {
              archiveBad++;
              warn(m);
            },
            onIgnoredKey: (key) => warn(`ignored s3://${loc.bucket}/${key}: not an archive object name`),
          }),
      });
    } else {
      result = await withNats(
        cfg.NATS_URL,
        (nats) => exportEvents({ ...common, timeOrdered: true, openSource: (after) => openLiveSource(nats.js, nats.jsm, n, filter, { after, follow: o.follow === true }) }),
        { onOldServer: warn },
      );
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    s3?.destroy();
  }

  const bad = result.bad + archiveBad;
  if (o.out && o.out !== '-') {
    const resumed = result.resumedAfter ? ` (resumed after seq ${result.resumedAfter})` : '';
    const span = result.range ? `, seq ${result.range.from}-${result.lastSeq ?? result.range.from - 1}` : '';
    const what = result.range || target.writesEmpty ? `${result.written} event(s) written to ${target.name}${span}${resumed}` : `nothing new to write to ${target.name}${resumed}`;
    console.error(`chatctl events: ${what}`);
  }
  if (result.interrupted) {
    console.error(`chatctl events: interrupted${toS3 ? '; no object was written' : o.out && o.out !== '-' ? '; --resume continues it' : ''}`);
    process.exitCode = EXIT_INTERRUPTED;
  } else if (bad) {
    console.error(`chatctl events: ${bad} event(s) could not be parsed (reported above) and were not written`);
    process.exitCode = EXIT_BAD_EVENTS;
  }
}
