export { registerEventsCommand, EXIT_BAD_EVENTS } from './command';
export { exportEvents, type ExportOptions, type ExportResult } from './export';
export { openLiveSource, streamTimeMs } from './live';
export { listArchive, openArchiveSource } from './archiveSource';
export { mergeBySeq, type SeqRun } from './merge';
export { buildFilter, parseTimeArg, subjectMatches, EVENT_TYPES, PlanError, type EventFilter, type FilterArgs } from './plan';
export { EventLine, archiveLine, exportLine, rawFromLine, rawFromPayload, upcaster, type RawEvent } from './record';
export { ARCHIVE_HOUR_MS, archiveEventsPrefix, archiveObjectKey, hourPath, parseArchiveKey, type ArchiveObject } from './layout';
export { ArchiveLocationConfig, createS3, loadArchiveLocationConfig, parseS3Url, type S3Location, type S3Settings } from './s3';
export { fileTarget, s3Target, stdoutTarget, type Sink, type Target } from './sinks';
export { Progress } from './progress';
export { IDLE, type Source } from './source';
/** Helpers for the tests of the export and the archive (sample events, the CLI in a process, S3 clean-up). */
export * as eventsTestSupport from './testEvents';
