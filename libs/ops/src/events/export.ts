import type { Names } from '@chat/contracts';
import { subjectMatches, type EventFilter } from './plan';
import { exportLine, upcaster } from './record';
import { IDLE, type Source } from './source';
import type { Sink, Target } from './sinks';
import type { Progress } from './progress';

export interface ExportOptions {
  names: Names;
  filter: EventFilter;
  /** Makes the source once the output said where a resume continues (0 = from the start). */
  openSource(after: number): Promise<Source>;
  target: Target;
  /** Most events to write. */
  limit?: number;
  /** The source's seqs and times rise together (the live stream): an event past --until ends the read. */
  timeOrdered: boolean;
  progress: Progress;
  /** An event that does not parse: reported here, counted, not written. */
  onBad(message: string): void;
  /** Stops the export after the event being written; the output keeps what is complete. */
  signal?: AbortSignal;
}

export interface ExportResult {
  /** The seq range the read covered; null when there was nothing to read. */
  range: { from: number; to: number } | null;
  read: number;
  written: number;
  bad: number;
  /** The last seq read. */
  lastSeq: number | undefined;
  /** Continued after this seq (a resume), 0 otherwise. */
  resumedAfter: number;
  interrupted: boolean;
}

/**
 * Reads the source in seq order, keeps the events the filter selects, upcasts each through the
 * contracts' parser and writes it as one NDJSON line. The filter is applied here whatever the
 * source already narrowed, so the live stream and the archive select exactly the same events.
 */
export async function exportEvents(o: ExportOptions): Promise<ExportResult> {
  const f = o.filter;
  const after = await o.target.resumeAfter(f.signature);
  const source = await o.openSource(after);
  const result: ExportResult = { range: null, read: 0, written: 0, bad: 0, lastSeq: undefined, resumedAfter: after, interrupted: false };
  const empty = source.from > source.to;
  if (empty && !o.target.writesEmpty) return result;
  if (!empty) result.range = { from: source.from, to: source.to };
  const sink: Sink = await o.target.open({ from: source.from, to: source.to }, f.signature);
  const upcast = upcaster(o.names);
  const lower = Math.max(f.fromSeq ?? 1, after + 1);
  try {
    for await (const item of empty ? [] : source.events()) {
      if (item === IDLE) {
        await sink.idle();
        if (o.signal?.aborted) {
          result.interrupted = true;
          break;
        }
        continue;
      }
      if (item.seq < lower) continue;
      if (item.seq > source.to) break;
      if (f.untilMs !== undefined && item.timeMs >= f.untilMs && o.timeOrdered) break;
      result.read++;
      result.lastSeq = item.seq;
      o.progress.update({ read: result.read, written: result.written, total: source.estimate(result.read), seq: item.seq });
      const selected =
        (f.sinceMs === undefined || item.timeMs >= f.sinceMs) &&
        (f.untilMs === undefined || item.timeMs < f.untilMs) &&
        (!f.subjects || f.subjects.some((s) => subjectMatches(s, item.subject)));
      if (selected) {
        const r = upcast(item);
        if (!r.ok) {
          result.bad++;
          o.onBad(`seq ${item.seq} (${item.subject}, ${new Date(item.timeMs).toISOString()}): not a valid event: ${r.error}`);
        } else if (!f.types || f.types.has(r.event.type)) {
          await sink.write(exportLine(item, r.event), item.seq);
          result.written++;
        }
      }
      sink.covered(item.seq);
      if (o.limit !== undefined && result.written >= o.limit) break;
      if (o.signal?.aborted) {
        result.interrupted = true;
        break;
      }
    }
  } catch (e) {
    await sink.abort();
    throw e;
  } finally {
    o.progress.update({ read: result.read, written: result.written, total: source.estimate(result.read), seq: result.lastSeq }, true);
    o.progress.end();
  }
  if (result.interrupted) await sink.abort();
  else await sink.close();
  return result;
}
