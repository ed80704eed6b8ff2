import { counterFrom, gaugeFrom, runApp } from '@chat/app';
import { ArchiveConfig, names as namesFor } from '@chat/contracts';
import { connectNats } from '@chat/nats';
import { archiveEventsPrefix, createS3 } from '@chat/ops';
import { archiveConsumerConfig, ensureConsumerWhenStreamExists } from '@chat/streams';
import { ArchiveWorker } from './worker';

runApp('archive', ArchiveConfig, async ({ cfg, log, summary, metrics }) => {
  const n = namesFor(cfg.CHAT_NS);
  const nats = await connectNats(cfg.NATS_URL, 'archive', { security: cfg });
  // Not created by `chatctl streams apply` (the archive is optional): ensured here.
  const { stream, config } = archiveConsumerConfig(n);
  await ensureConsumerWhenStreamExists(nats.jsm, stream, config, () => log.warn({ stream }, 'waiting for the stream to be created (chatctl streams apply)'));
  const s3 = createS3(cfg);
  const bucket = cfg.CHAT_ARCHIVE_BUCKET ?? cfg.S3_BUCKET;
  const eventsPrefix = archiveEventsPrefix(cfg.CHAT_ARCHIVE_PREFIX, cfg.CHAT_NS);
  const worker = await ArchiveWorker.start({
    js: nats.js,
    stream,
    consumer: config.durable_name,
    s3,
    bucket,
    eventsPrefix,
    maxEvents: cfg.CHAT_ARCHIVE_MAX_EVENTS,
    maxBytes: cfg.CHAT_ARCHIVE_MAX_BYTES,
    maxDelayMs: cfg.CHAT_ARCHIVE_MAX_DELAY,
    log,
    flush: () => nats.nc.flush(),
  });

  const counter = (name: string, help: string, value: () => number) => counterFrom(metrics, name, help, value);
  counter('chat_archive_events_total', 'Events written to the archive', () => worker.stats.events);
  counter('chat_archive_objects_total', 'Archive objects written', () => worker.stats.objects);
  counter('chat_archive_bytes_total', 'Gzipped bytes written to the archive', () => worker.stats.bytes);
  counter('chat_archive_upload_failures_total', 'Archive object uploads that failed (and were retried)', () => worker.stats.uploadFailures);
  gaugeFrom(metrics, 'chat_archive_last_sequence', 'Highest CHAT_EVENTS sequence this process wrote to the archive', () => worker.stats.lastSeq);

  summary('archive', () => ({ ...worker.stats }));
  log.info({ bucket, prefix: eventsPrefix, maxEvents: cfg.CHAT_ARCHIVE_MAX_EVENTS, maxBytes: cfg.CHAT_ARCHIVE_MAX_BYTES, maxDelayMs: cfg.CHAT_ARCHIVE_MAX_DELAY }, 'archive started');
  return {
    done: worker.done,
    stats: () => ({ ...worker.stats }),
    async ready() {
      const failing = worker.failingSince;
      return {
        checks: { nats: !nats.nc.isClosed(), s3: failing === null },
        ...(failing !== null ? { problems: [`writing to s3://${bucket}/${eventsPrefix} fails since ${new Date(failing).toISOString()}: events wait un-acked in CHAT_EVENTS`] } : {}),
      };
    },
    async stop() {
      await worker.stop();
      await nats.nc.drain().catch((err) => log.warn({ err }, 'nats drain failed'));
      s3.destroy();
    },
  };
});
