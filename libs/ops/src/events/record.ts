import { z } from 'zod';
import { parseEvent, parsePreferenceEvent, type Names, type StoredEvent } from '@chat/contracts';

/**
 * One line of every NDJSON this module writes or reads (`chatctl events` output, the archive's
 * objects): the event's CHAT_EVENTS sequence, subject and stream time (ISO, ms), and the event.
 * `chatctl events` writes the event upcast by the contracts' parser; the archive keeps it as
 * stored, and a payload that is not JSON as `data` (base64), so that nothing is lost.
 */
export const EventLine = z
  .object({
    seq: z.number().int().positive(),
    subject: z.string().min(1),
    time: z.iso.datetime(),
    event: z.unknown().optional(),
    data: z.base64().optional(),
  })
  .refine((l) => (l.event === undefined) !== (l.data === undefined), 'exactly one of event and data');
export type EventLine = z.infer<typeof EventLine>;

/** What a source yields: a stored event, its payload decoded as JSON if it is JSON. */
export interface RawEvent {
  seq: number;
  subject: string;
  /** Stream time, ms since the epoch (the server's nanoseconds, floored). */
  timeMs: number;
  payload: { json: unknown } | { notJson: Uint8Array };
}

export function rawFromPayload(seq: number, subject: string, timeMs: number, data: Uint8Array): RawEvent {
  try {
    return { seq, subject, timeMs, payload: { json: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) } };
  } catch {
    return { seq, subject, timeMs, payload: { notJson: data } };
  }
}

export function rawFromLine(line: EventLine): RawEvent {
  const timeMs = Date.parse(line.time);
  return line.data !== undefined
    ? { seq: line.seq, subject: line.subject, timeMs, payload: { notJson: Buffer.from(line.data, 'base64') } }
    : { seq: line.seq, subject: line.subject, timeMs, payload: { json: line.event } };
}

/** The archive's line for a stored event: the payload as stored. */
export function archiveLine(raw: RawEvent): string {
  const base = { seq: raw.seq, subject: raw.subject, time: new Date(raw.timeMs).toISOString() };
  return JSON.stringify('json' in raw.payload ? { ...base, event: raw.payload.json } : { ...base, data: Buffer.from(raw.payload.notJson).toString('base64') });
}

export type Upcast = { ok: true; event: StoredEvent } | { ok: false; error: string };

/**
 * The stored event through the contracts' parser for its subject family (`parseEvent` for
 * chat.evt.>, `parsePreferenceEvent` for chat.pref.>), which is where older versions are upcast.
 */
export function upcaster(n: Names): (raw: RawEvent) => Upcast {
  const pref = n.subjects.prefAll.slice(0, -1);
  return (raw) => {
    if (!('json' in raw.payload)) return { ok: false, error: 'the payload is not JSON' };
    try {
      const json = raw.payload.json;
      return { ok: true, event: raw.subject.startsWith(pref) ? parsePreferenceEvent(json) : parseEvent(json) };
    } catch (e) {
      return { ok: false, error: e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ') : (e as Error).message };
    }
  };
}

export function exportLine(raw: RawEvent, event: StoredEvent): string {
  return JSON.stringify({ seq: raw.seq, subject: raw.subject, time: new Date(raw.timeMs).toISOString(), event });
}
