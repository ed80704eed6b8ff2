/*
 * Givens and commands for the conversation unit tests. Not exported from the library's index;
 * other packages' tests import it as `@chat/domain/fixtures` (for `messageSent`).
 */
import type { CommandOf, ConversationEvent, EventOf, Role } from '@chat/contracts';
import { conversationDecider } from '../decider';
import { checkDecider, type Then } from '../testing';
import type { ConversationCommand } from './decide';
import { evolveAll } from './evolve';
import { DEFAULT_RULES, type ConversationRules } from './rules';
import { initialState, type ConversationState } from './state';

export const AT = '2025-01-01T00:00:00.000Z';
export const after = (ms: number, from = AT): string => new Date(Date.parse(from) + ms).toISOString();
export const MIN = 60_000;

export const meta = (userId: string, at = AT): CommandOf<'SendMessage'>['meta'] => ({
  commandId: `cmd-${userId}-${at}`,
  requestId: `req-${userId}-${at}`,
  userId,
  deviceId: `${userId}-phone`,
  edgeId: 'edge-1',
  at,
});

type DataOf<T extends ConversationCommand['type']> = Omit<CommandOf<T>['data'], 'conversationId'>;

/** A command of `type` by `by` on conversation c1. */
export const cmd = <T extends ConversationCommand['type']>(type: T, by: string, data: DataOf<T>, at = AT): CommandOf<T> =>
  ({ type, v: 1, meta: meta(by, at), data: { conversationId: 'c1', ...data } }) as unknown as CommandOf<T>;

export const directCreated = (a = 'alice', b = 'bob'): EventOf<'ConversationCreated'> => ({
  type: 'ConversationCreated',
  v: 1,
  conversationId: 'c1',
  kind: 'direct',
  createdBy: a,
  members: [
    { userId: a, role: 'member' },
    { userId: b, role: 'member' },
  ],
  at: AT,
});

/** A group c1 owned by `owner`; `others` are members, `admins` admins. */
export const groupCreated = (owner: string, others: string[], admins: string[] = []): EventOf<'ConversationCreated'> => ({
  type: 'ConversationCreated',
  v: 1,
  conversationId: 'c1',
  kind: 'group',
  title: 'team',
  createdBy: owner,
  members: [
    { userId: owner, role: 'owner' },
    ...admins.map((userId) => ({ userId, role: 'admin' as const })),
    ...others.map((userId) => ({ userId, role: 'member' as const })),
  ],
  at: AT,
});

type MessageSentFields = Omit<EventOf<'MessageSent'>, 'type' | 'v'>;

/**
 * A MessageSent event: the one builder of them for every package's unit and integration
 * tests. Only the seq and the sender are needed; every other field follows from them (in
 * conversation c1, at AT) unless given. Optional fields are present only when given.
 */
export function messageSent(e: Pick<MessageSentFields, 'seq' | 'senderId'> & Partial<MessageSentFields>): EventOf<'MessageSent'> {
  const conversationId = e.conversationId ?? 'c1';
  const messageId = e.messageId ?? `m-${conversationId}-${e.seq}`;
  return {
    type: 'MessageSent',
    v: 1,
    conversationId,
    messageId,
    seq: e.seq,
    senderId: e.senderId,
    senderDeviceId: e.senderDeviceId ?? `${e.senderId}-phone`,
    clientMsgId: e.clientMsgId ?? `k-${messageId}`,
    body: e.body ?? { text: `text of ${messageId}` },
    ...(e.replyTo !== undefined ? { replyTo: e.replyTo } : {}),
    sentAt: e.sentAt ?? AT,
    ...(e.mentions !== undefined ? { mentions: e.mentions } : {}),
    ...(e.forwarded !== undefined ? { forwarded: e.forwarded } : {}),
  };
}

export const sent = (seq: number, by: string, id: string, extra: { at?: string; replyTo?: string; mentions?: string[] } = {}): EventOf<'MessageSent'> =>
  messageSent({ seq, senderId: by, messageId: id, replyTo: extra.replyTo, sentAt: extra.at, mentions: extra.mentions });

export const added = (seq: number, by: string, userIds: string[], at = AT): EventOf<'MembersAdded'> => ({
  type: 'MembersAdded',
  v: 1,
  conversationId: 'c1',
  seq,
  by,
  members: userIds.map((userId) => ({ userId, role: 'member' as const })),
  at,
});
export const removed = (seq: number, by: string, userId: string, at = AT): EventOf<'MemberRemoved'> => ({ type: 'MemberRemoved', v: 1, conversationId: 'c1', seq, by, userId, at });
export const left = (seq: number, userId: string, at = AT): EventOf<'MemberLeft'> => ({ type: 'MemberLeft', v: 1, conversationId: 'c1', seq, userId, at });
export const rolesChanged = (by: string, changes: Array<[string, Role]>, at = AT): EventOf<'RolesChanged'> => ({
  type: 'RolesChanged',
  v: 1,
  conversationId: 'c1',
  by,
  changes: changes.map(([userId, role]) => ({ userId, role })),
  at,
});
export const updated = (by: string, fields: { title?: string; description?: string; avatarUrl?: string }, at = AT): EventOf<'ConversationUpdated'> => ({
  type: 'ConversationUpdated',
  v: 1,
  conversationId: 'c1',
  by,
  ...fields,
  at,
});
export const edited = (seq: number, by: string, id: string, text: string, at = AT): EventOf<'MessageEdited'> => ({
  type: 'MessageEdited',
  v: 1,
  conversationId: 'c1',
  messageId: id,
  seq,
  by,
  body: { text },
  at,
});
export const deleted = (seq: number, by: string, id: string, at = AT): EventOf<'MessageDeleted'> => ({ type: 'MessageDeleted', v: 1, conversationId: 'c1', messageId: id, seq, by, at });
export const hidden = (seq: number, userId: string, id: string, at = AT): EventOf<'MessageHidden'> => ({ type: 'MessageHidden', v: 1, conversationId: 'c1', messageId: id, seq, userId, at });

/** alice owns the group; olga is an admin; bob and carol are members. */
export const group = (): EventOf<'ConversationCreated'> => groupCreated('alice', ['bob', 'carol'], ['olga']);

export interface Case {
  name: string;
  given: ConversationEvent[];
  when: ConversationCommand;
  then: Then<ConversationEvent>;
  /** Over DEFAULT_RULES. */
  rules?: Partial<ConversationRules>;
}

/** Runs a case through the conversation decider (see checkDecider). */
export const check = (c: Case): void => checkDecider(conversationDecider, { ...c, context: { rules: { ...DEFAULT_RULES, ...c.rules } } });

export const stateOf = (events: ConversationEvent[]): ConversationState => evolveAll(initialState(), events);
