/* Givens and commands for the conversation unit tests (not exported from the library). */
import { expect } from 'vitest';
import { ChatError, type CommandOf, type ConversationEvent, type ErrorCode, type EventOf, type Role } from '@chat/contracts';
import { decide, DEFAULT_RULES, type ConversationCommand, type ConversationRules } from './decide';
import { evolveAll } from './evolve';
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

export const sent = (seq: number, by: string, id: string, extra: { at?: string; replyTo?: string; mentions?: string[] } = {}): EventOf<'MessageSent'> => ({
  type: 'MessageSent',
  v: 1,
  conversationId: 'c1',
  messageId: id,
  seq,
  senderId: by,
  senderDeviceId: `${by}-phone`,
  clientMsgId: `k-${id}`,
  body: { text: `text of ${id}` },
  ...(extra.replyTo ? { replyTo: extra.replyTo } : {}),
  sentAt: extra.at ?? AT,
  ...(extra.mentions ? { mentions: extra.mentions } : {}),
});

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

export interface Case {
  name: string;
  given: ConversationEvent[];
  when: ConversationCommand;
  then: ConversationEvent[] | { error: ErrorCode; message?: string | RegExp };
  rules?: Partial<ConversationRules>;
}

export function run(c: Pick<Case, 'given' | 'when' | 'rules'>): ConversationEvent[] | { error: ErrorCode; message: string } {
  try {
    return decide(c.when, evolveAll(initialState(), c.given), { ...DEFAULT_RULES, ...c.rules });
  } catch (e) {
    if (e instanceof ChatError) return { error: e.code, message: e.message };
    throw e;
  }
}

/** Compares events exactly; for an error its code, and its message when the case names one. */
export function check(c: Case): void {
  const got = run(c);
  if ('error' in c.then && !Array.isArray(c.then)) {
    const { error, message } = c.then;
    expect(Array.isArray(got) ? got : got.error).toEqual(error);
    if (message !== undefined && !Array.isArray(got)) expect(got.message).toMatch(message);
    return;
  }
  expect(got).toEqual(c.then);
}

export const stateOf = (events: ConversationEvent[]): ConversationState => evolveAll(initialState(), events);
