import { ConversationEvent, ConversationId, MemberMuteChanged, parseDuration, ReceiptEvent, UserSettingsEvent, type Names } from '@chat/contracts';

/** The event families by subject, and the types each carries. */
const FAMILIES = {
  conversation: ConversationEvent.options.map((o) => o.shape.type.value),
  receipt: ReceiptEvent.options.map((o) => o.shape.type.value),
  memberPreference: [MemberMuteChanged.shape.type.value],
  userSettings: UserSettingsEvent.options.map((o) => o.shape.type.value),
} as const;
type Family = keyof typeof FAMILIES;

/** Every event type CHAT_EVENTS holds, for `--type`. */
export const EVENT_TYPES: readonly string[] = Object.values(FAMILIES).flat().sort();

export class PlanError extends Error {}

/** A point in time from `--since`/`--until`: an ISO date or timestamp, or a duration ago (`90s`, `15m`, `2h`, `7d`). */
export function parseTimeArg(flag: string, input: string, now: number): number {
  const s = input.trim();
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(s)) return now - parseDuration(s);
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
  const ms = iso.test(s) ? Date.parse(s) : NaN;
  if (Number.isNaN(ms)) throw new PlanError(`${flag}: "${input}" is neither an ISO time (2025-03-01, 2025-03-01T12:00:00Z) nor a duration ago (30m, 2h, 7d)`);
  return ms;
}

/** What to read, whatever the source: a seq range, a time range, subject filters and event types. */
export interface EventFilter {
  /** First and last stream sequence (inclusive); undefined = unbounded. */
  fromSeq?: number;
  toSeq?: number;
  /** Stream time range, ms: since inclusive, until exclusive. */
  sinceMs?: number;
  untilMs?: number;
  /** Subject filters (namespaced, NATS wildcards); undefined = the whole stream. */
  subjects?: string[];
  /** Event types; undefined = every type. */
  types?: ReadonlySet<string>;
  /** The selection (subjects and types, not the range) as a string: a resumed export must have the same. */
  signature: string;
}

export interface FilterArgs {
  fromSeq?: number;
  toSeq?: number;
  since?: string;
  until?: string;
  types?: string[];
  conversation?: string;
  subject?: string;
}

/**
 * The filter of `chatctl events`' flags. Types and a conversation narrow the subject filter
 * (the server then sends only those subjects); the types are also checked on each event, since a
 * subject family carries several.
 */
export function buildFilter(n: Names, a: FilterArgs, now = Date.now()): EventFilter {
  if (a.fromSeq !== undefined && a.toSeq !== undefined && a.fromSeq > a.toSeq) throw new PlanError(`--from-seq ${a.fromSeq} is after --to-seq ${a.toSeq}`);
  const sinceMs = a.since !== undefined ? parseTimeArg('--since', a.since, now) : undefined;
  const untilMs = a.until !== undefined ? parseTimeArg('--until', a.until, now) : undefined;
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs >= untilMs) {
    throw new PlanError(`--since (${new Date(sinceMs).toISOString()}) must be before --until (${new Date(untilMs).toISOString()})`);
  }
  let types: Set<string> | undefined;
  if (a.types?.length) {
    const unknown = a.types.filter((t) => !EVENT_TYPES.includes(t));
    if (unknown.length) throw new PlanError(`--type: unknown event type ${unknown.join(', ')} (known: ${EVENT_TYPES.join(', ')})`);
    types = new Set(a.types);
  }
  if (a.conversation !== undefined) {
    if (a.subject !== undefined) throw new PlanError('--conversation and --subject: give one of them');
    // `user` would also select chat.pref.user.<userId>: users' own settings.
    if (!ConversationId.safeParse(a.conversation).success || a.conversation === 'user') {
      throw new PlanError(`--conversation: "${a.conversation}" is not a conversation id (1-64 chars of [A-Za-z0-9_-])`);
    }
  }
  let subjects: string[] | undefined;
  if (a.subject !== undefined) {
    subjects = [n.ns && !a.subject.startsWith(`${n.ns}.`) ? `${n.ns}.${a.subject}` : a.subject];
  } else if (types || a.conversation !== undefined) {
    subjects = familySubjects(n, families(types), a.conversation);
    if (!subjects.length) throw new PlanError(`--type ${[...types!].join(', ')}: not events of a conversation (they are users' own settings)`);
  }
  const signature = JSON.stringify({ subjects: subjects ?? null, types: types ? [...types].sort() : null });
  return {
    ...(a.fromSeq !== undefined ? { fromSeq: a.fromSeq } : {}),
    ...(a.toSeq !== undefined ? { toSeq: a.toSeq } : {}),
    ...(sinceMs !== undefined ? { sinceMs } : {}),
    ...(untilMs !== undefined ? { untilMs } : {}),
    ...(subjects ? { subjects } : {}),
    ...(types ? { types } : {}),
    signature,
  };
}

function families(types: ReadonlySet<string> | undefined): Set<Family> {
  const all = Object.keys(FAMILIES) as Family[];
  return new Set(types ? all.filter((f) => FAMILIES[f].some((t) => types.has(t))) : all);
}

/** Non-overlapping subject filters (nats-server refuses overlapping ones on one consumer). */
function familySubjects(n: Names, fams: Set<Family>, conversationId: string | undefined): string[] {
  const s = n.subjects;
  const out: string[] = [];
  if (fams.has('conversation')) out.push(conversationId !== undefined ? s.evtConv(conversationId) : s.evtConvAll);
  if (fams.has('receipt')) out.push(conversationId !== undefined ? s.evtRcptConvAll(conversationId) : s.evtRcptAll);
  if (conversationId !== undefined) {
    if (fams.has('memberPreference')) out.push(s.pref(conversationId, '*'));
  } else if (fams.has('memberPreference') && fams.has('userSettings')) out.push(s.prefAll);
  else if (fams.has('memberPreference')) out.push(s.pref('*', '*'));
  else if (fams.has('userSettings')) out.push(s.userPref('*'));
  return out;
}

/** Whether a subject matches a NATS subject filter (`*` one token, `>` one or more at the end). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const t = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return t.length > i;
    if (i >= t.length || (f[i] !== '*' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
