import { z } from 'zod';
import type { Command } from './commands';
import type { ServerFrame } from './frames';
import type { SnapshotKind } from './snapshots';
import { ChatEvent, MemberPreferenceEvent, type StoredEvent } from './events';
import { names } from './names';

/** Every event schema CHAT_EVENTS holds: conversation and receipt events (`chat.evt.>`), then preferences (`chat.pref.>`). */
export const STREAM_EVENT_SCHEMAS = [...ChatEvent.options, ...MemberPreferenceEvent.options];
export type EventType = StoredEvent['type'];

/** The projector's projections; each reads through its own checkpoint, named `proj-<name>`. */
export type ProjectionName = 'messages' | 'receipts' | 'conversations' | 'preferences';

/** What the zod schemas cannot say about an event: who appends it and who reacts to it. */
export interface EventMeta {
  /** The aggregate whose subject carries it (its snapshot kind); the command service appends it after the aggregate's decider accepted one of `commands`. */
  aggregate: SnapshotKind;
  commands: readonly Command['type'][];
  /** The projections that write it into their read models (in either retention mode). */
  projections: readonly ProjectionName[];
  /** The frames the projector's live router sends for it, before the commit. */
  live: readonly ServerFrame['type'][];
  /** What the notifier takes of it: the push jobs the live router queues, or the read model it checks before each push. */
  notifier?: 'push jobs' | 'notification_mutes' | 'user_blocks';
  /** What the lists above leave out. */
  note?: string;
}

export const EVENT_CATALOGUE: Record<EventType, EventMeta> = {
  ConversationCreated: { aggregate: 'conversation', commands: ['CreateConversation'], projections: ['messages', 'conversations'], live: ['conversation.updated'] },
  MessageSent: { aggregate: 'conversation', commands: ['SendMessage'], projections: ['messages', 'conversations'], live: ['message.new'], notifier: 'push jobs' },
  MembersAdded: { aggregate: 'conversation', commands: ['AddMembers'], projections: ['messages', 'conversations'], live: ['message.new', 'conversation.updated'] },
  MemberRemoved: { aggregate: 'conversation', commands: ['RemoveMember'], projections: ['messages', 'conversations'], live: ['message.new', 'conversation.updated'] },
  MemberLeft: { aggregate: 'conversation', commands: ['LeaveConversation'], projections: ['messages', 'conversations'], live: ['message.new', 'conversation.updated'] },
  RolesChanged: { aggregate: 'conversation', commands: ['ChangeRole'], projections: ['messages'], live: ['conversation.updated'] },
  ConversationUpdated: { aggregate: 'conversation', commands: ['UpdateConversation'], projections: ['messages', 'conversations'], live: ['conversation.updated'] },
  MessageEdited: { aggregate: 'conversation', commands: ['EditMessage'], projections: ['messages', 'conversations'], live: ['message.edited'] },
  MessageDeleted: { aggregate: 'conversation', commands: ['DeleteMessage'], projections: ['messages', 'conversations'], live: ['message.deleted'] },
  MessageHidden: { aggregate: 'conversation', commands: ['DeleteMessage'], projections: ['messages'], live: ['message.deleted'] },
  MessagesDelivered: {
    aggregate: 'receipt',
    commands: ['MarkDelivered', 'MarkRead'],
    projections: ['receipts', 'conversations'],
    live: ['receipt'],
    note: "`MarkRead` appends it for a read that moves only the device's watermark. proj-conversations reads it only with CHAT_RETENTION=ephemeral (a last message whose body expired). Live `receipt` in direct conversations; in groups proj-receipts sends the coalesced `receipt.batch` after commit.",
  },
  MessagesRead: {
    aggregate: 'receipt',
    commands: ['MarkRead'],
    projections: ['receipts', 'conversations'],
    live: ['receipt'],
    note: "Live `receipt` to both members of a direct conversation; in a group to the reader's other devices, and the coalesced `receipt.batch` after commit.",
  },
  MemberMuteChanged: { aggregate: 'preference', commands: ['MuteConversation'], projections: ['preferences'], live: [], notifier: 'notification_mutes' },
  PrivacyChanged: { aggregate: 'user', commands: ['SetPrivacy'], projections: ['preferences'], live: [] },
  UserBlocked: { aggregate: 'user', commands: ['BlockUser'], projections: ['preferences'], live: [], notifier: 'user_blocks' },
  UserUnblocked: { aggregate: 'user', commands: ['UnblockUser'], projections: ['preferences'], live: [], notifier: 'user_blocks' },
};

const n = names();
/** The subject of each aggregate, with its ids as `{placeholders}`. */
export const AGGREGATE_SUBJECTS: Record<SnapshotKind, string> = {
  conversation: n.subjects.evtConv('{conversationId}'),
  receipt: n.subjects.evtRcpt('{conversationId}', '{userId}'),
  preference: n.subjects.pref('{conversationId}', '{userId}'),
  user: n.subjects.userPref('{userId}'),
};
const PROJECTION_CONSUMERS: Record<ProjectionName, string> = {
  messages: n.consumers.projMessages,
  receipts: n.consumers.projReceipts,
  conversations: n.consumers.projConversations,
  preferences: n.consumers.projPreferences,
};

interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minimum?: number;
  exclusiveMinimum?: number;
  description?: string;
}

export interface FieldRow {
  /** Dotted path; `[]` marks the elements of an array. */
  name: string;
  type: string;
  required: boolean;
  description: string;
}

function typeName(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const union = s.anyOf ?? s.oneOf;
  if (union) return union.map(typeName).join(' | ');
  if (Array.isArray(s.type)) return s.type.join(' | ');
  if (s.type === 'array') {
    const item = typeName(s.items ?? {});
    return item.includes(' | ') ? `(${item})[]` : `${item}[]`;
  }
  if (s.type === 'object') return `{${Object.keys(s.properties ?? {}).map((k) => (s.required?.includes(k) ? k : `${k}?`)).join(', ')}}`;
  if (s.type === 'integer' && (s.exclusiveMinimum === 0 || s.minimum === 1)) return 'integer ≥ 1';
  if (s.type === 'integer' && s.minimum === 0) return 'integer ≥ 0';
  return s.type ?? 'any';
}

/** An object's fields, with the fields of nested objects (and arrays of objects) after their parent. */
function fieldRows(s: JsonSchema, prefix = ''): FieldRow[] {
  return Object.entries(s.properties ?? {}).flatMap(([key, field]) => {
    const name = prefix + key;
    const row = { name, type: typeName(field), required: s.required?.includes(key) ?? false, description: field.description ?? '' };
    if (field.type === 'object') return [{ ...row, type: 'object' }, ...fieldRows(field, `${name}.`)];
    if (field.type === 'array' && field.items?.type === 'object') return [{ ...row, type: 'object[]' }, ...fieldRows(field.items, `${name}[].`)];
    return [row];
  });
}

/** The fields of an event as the catalogue lists them: all but `type` and `v`, which head its entry. */
export function eventFields(schema: z.ZodType): FieldRow[] {
  return fieldRows(z.toJSONSchema(schema, { unrepresentable: 'any' }) as JsonSchema).filter((f) => f.name !== 'type' && f.name !== 'v');
}

const NOTIFIER: Record<NonNullable<EventMeta['notifier']>, string> = {
  'push jobs': `a push job (${n.streams.notify}, from the live router) with the recipients that have no connected device (one per message)`,
  notification_mutes: `checks \`notification_mutes\` (${n.consumers.projPreferences}) before each push`,
  user_blocks: `checks \`user_blocks\` (${n.consumers.projPreferences}) before each push`,
};
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (xs: readonly string[]) => (xs.length ? xs.map((x) => `\`${x}\``).join(', ') : '—');

/** docs/events.md: every event type CHAT_EVENTS holds, from the zod schemas and EVENT_CATALOGUE. */
export function eventCatalogueMarkdown(): string {
  const events = STREAM_EVENT_SCHEMAS.map((schema) => {
    const type = schema.shape.type.value;
    const meta = EVENT_CATALOGUE[type];
    return { type, v: schema.shape.v.value, schema, meta, subject: AGGREGATE_SUBJECTS[meta.aggregate], projections: meta.projections.map((p) => PROJECTION_CONSUMERS[p]) };
  });
  const out = [
    '# Event catalogue',
    '',
    `Generated from the zod contracts (\`libs/contracts/src/events.ts\`, \`catalogue.ts\`) by \`npx tsx scripts/gen-schemas.ts\`; a unit test fails when this file and the contracts drift apart. JSON Schema of the \`${n.subjects.evtAll}\` events: \`docs/schemas/events.json\`.`,
    '',
    `Every event is appended to ${n.streams.events} by the command service (\`apps/command\`), on the subject of its aggregate, once the aggregate's decider accepted a command. ` +
      `The projector reads the stream in order through one durable consumer (\`${n.consumers.projector}\`): \`${n.subjects.evtAll}\` feeds ${code([PROJECTION_CONSUMERS.messages, PROJECTION_CONSUMERS.receipts, PROJECTION_CONSUMERS.conversations])} and the live router (frames to the members' edges, before the commit); \`${n.subjects.prefAll}\` feeds ${code([PROJECTION_CONSUMERS.preferences])}. ` +
      `After their commits, ${code([PROJECTION_CONSUMERS.conversations])} sends \`conversation.activity\` and ${code([PROJECTION_CONSUMERS.receipts])} the coalesced \`receipt.batch\` of groups; those frames are not listed below. ` +
      `The notifier reads no event: it takes the push jobs the live router queues on ${n.streams.notify}, and checks the read models of the preferences projection before each push.`,
    '',
    '| type | v | subject | commands | projections | live frames | notifier |',
    '|---|---|---|---|---|---|---|',
    ...events.map((e) => `| [${e.type}](#${e.type.toLowerCase()}) | ${e.v} | \`${e.subject}\` | ${code(e.meta.commands)} | ${code(e.projections)} | ${code(e.meta.live)} | ${e.meta.notifier ?? '—'} |`),
  ];
  for (const e of events) {
    out.push(
      '',
      `## ${e.type}`,
      '',
      ...(e.schema.description ? [e.schema.description, ''] : []),
      `- **Type and version:** \`"type": "${e.type}"\`, \`"v": ${e.v}\``,
      `- **Subject:** \`${e.subject}\` (${e.meta.aggregate} aggregate)`,
      `- **Producer:** the command service, deciding ${code(e.meta.commands)}`,
      `- **Projections:** ${code(e.projections)}`,
      `- **Live router:** ${e.meta.live.length ? code(e.meta.live) : 'nothing'}`,
      `- **Notifier:** ${e.meta.notifier ? NOTIFIER[e.meta.notifier] : 'nothing'}`,
      ...(e.meta.note ? [`- **Note:** ${e.meta.note}`] : []),
      '',
      '| field | type | required | description |',
      '|---|---|---|---|',
      ...eventFields(e.schema).map((f) => `| \`${f.name}\` | ${cell(f.type)} | ${f.required ? 'yes' : 'no'} | ${cell(f.description)} |`),
    );
  }
  return out.join('\n') + '\n';
}
