import { directPair, encodeCursor, isMediaBody, messageNewFrame, type ChatEvent, type EventOf, type MessageNew, type ServerFrameOf, type SystemInfo, type ConversationKind, type Role } from '@chat/contracts';
import type { StoredEvent } from '../projection';
import type { Route } from '../routing';


export interface ConversationRow {
  id: string;
  kind: ConversationKind;
  title: string | null;
  createdBy: string;
  createdAt: string;
  description: string | null;
  avatarUrl: string | null;
}
export interface MemberRow {
  conversationId: string;
  userId: string;
  role: string;
  joinedAt: string;
  /** The member sees seq > joinedAfterSeq. */
  joinedAfterSeq: number;
}
export interface MessageRow {
  conversationId: string;
  seq: number;
  messageId: string;
  kind: 'text' | 'system';
  senderId: string;
  senderDeviceId: string | null;
  clientMsgId: string | null;
  body: unknown;
  replyTo: string | null;
  sentAt: string;
  streamSeq: number;
  system: SystemInfo | null;
  mentions: string[] | null;
  forwarded: boolean;
  /** The media object the message carries (messages.media_id). */
  mediaId: string | null;
}
export type MessageOp =
  | { op: 'edit'; conversationId: string; seq: number; streamSeq: number; body: unknown; at: string }
  | { op: 'delete'; conversationId: string; seq: number; streamSeq: number; at: string }
  | { op: 'hide'; conversationId: string; seq: number; streamSeq: number; userId: string; at: string };

/** What one event changes in the messages read model (conversations, members, messages, inbox). */
export type MessagesChange =
  | { kind: 'conversation'; conversation: ConversationRow; members: MemberRow[] }
  /** The message row (text or system); the store adds one inbox row per member who sees it, at streamSeq. */
  | { kind: 'message'; message: MessageRow }
  | { kind: 'join'; members: MemberRow[] }
  | { kind: 'part'; conversationId: string; userId: string }
  | { kind: 'roles'; conversationId: string; changes: Array<{ userId: string; role: string }> }
  | { kind: 'meta'; conversationId: string; title?: string; description?: string; avatarUrl?: string }
  | { kind: 'op'; op: MessageOp };

/** System messages have per-conversation ids (messages.message_id is unique per conversation). */
export const systemMessageId = (seq: number): string => `sys-${seq}`;

/** The English rendering of a system message (clients render `system` in their own language). */
export function systemText(s: SystemInfo): string {
  switch (s.event) {
    case 'members_added':
      return `${s.by} added ${s.userIds.join(', ')}`;
    case 'member_removed':
      return `${s.by} removed ${s.userIds.join(', ')}`;
    case 'member_left':
      return `${s.userIds.join(', ')} left`;
  }
}

type MembershipEvent = EventOf<'MembersAdded'> | EventOf<'MemberRemoved'> | EventOf<'MemberLeft'>;

export function systemInfo(e: MembershipEvent): SystemInfo {
  switch (e.type) {
    case 'MembersAdded':
      return { event: 'members_added', by: e.by, userIds: e.members.map((m) => m.userId) };
    case 'MemberRemoved':
      return { event: 'member_removed', by: e.by, userIds: [e.userId] };
    case 'MemberLeft':
      return { event: 'member_left', by: e.userId, userIds: [e.userId] };
  }
}

function systemMessage(e: MembershipEvent, streamSeq: number): MessageRow {
  const system = systemInfo(e);
  return {
    conversationId: e.conversationId,
    seq: e.seq,
    messageId: systemMessageId(e.seq),
    kind: 'system',
    senderId: system.by,
    senderDeviceId: null,
    clientMsgId: null,
    body: { text: systemText(system) },
    replyTo: null,
    sentAt: e.at,
    streamSeq,
    system,
    mentions: null,
    forwarded: false,
    mediaId: null,
  };
}

/** The changes of one event, in the order they must be applied. */
export function messagesChanges({ streamSeq, event: e }: StoredEvent): MessagesChange[] {
  switch (e.type) {
    case 'ConversationCreated':
      return [
        {
          kind: 'conversation',
          conversation: {
            id: e.conversationId,
            kind: e.kind,
            title: e.title ?? null,
            createdBy: e.createdBy,
            createdAt: e.at,
            description: e.description ?? null,
            avatarUrl: e.avatarUrl ?? null,
          },
          members: e.members.map((m) => ({ conversationId: e.conversationId, userId: m.userId, role: m.role, joinedAt: e.at, joinedAfterSeq: 0 })),
        },
      ];
    case 'MessageSent':
      return [
        {
          kind: 'message',
          message: {
            conversationId: e.conversationId,
            seq: e.seq,
            messageId: e.messageId,
            kind: 'text',
            senderId: e.senderId,
            senderDeviceId: e.senderDeviceId,
            clientMsgId: e.clientMsgId,
            body: e.body,
            replyTo: e.replyTo ?? null,
            sentAt: e.sentAt,
            streamSeq,
            system: null,
            mentions: e.mentions?.length ? e.mentions : null,
            forwarded: e.forwarded !== undefined,
            mediaId: isMediaBody(e.body) ? e.body.media.mediaId : null,
          },
        },
      ];
    case 'MembersAdded':
      // The new members see their own join (seq > seq - 1), then the message goes to everyone.
      return [
        {
          kind: 'join',
          members: e.members.map((m) => ({ conversationId: e.conversationId, userId: m.userId, role: m.role, joinedAt: e.at, joinedAfterSeq: e.seq - 1 })),
        },
        { kind: 'message', message: systemMessage(e, streamSeq) },
      ];
    case 'MemberRemoved':
    case 'MemberLeft':
      // The member goes first: the system message goes to the remaining members only.
      return [
        { kind: 'part', conversationId: e.conversationId, userId: e.userId },
        { kind: 'message', message: systemMessage(e, streamSeq) },
      ];
    case 'RolesChanged':
      return [{ kind: 'roles', conversationId: e.conversationId, changes: e.changes }];
    case 'ConversationUpdated':
      return [
        {
          kind: 'meta',
          conversationId: e.conversationId,
          ...(e.title !== undefined ? { title: e.title } : {}),
          ...(e.description !== undefined ? { description: e.description } : {}),
          ...(e.avatarUrl !== undefined ? { avatarUrl: e.avatarUrl } : {}),
        },
      ];
    case 'MessageEdited':
      return [{ kind: 'op', op: { op: 'edit', conversationId: e.conversationId, seq: e.seq, streamSeq, body: e.body, at: e.at } }];
    case 'MessageDeleted':
      return [{ kind: 'op', op: { op: 'delete', conversationId: e.conversationId, seq: e.seq, streamSeq, at: e.at } }];
    case 'MessageHidden':
      return [{ kind: 'op', op: { op: 'hide', conversationId: e.conversationId, seq: e.seq, streamSeq, userId: e.userId, at: e.at } }];
    case 'MessagesDelivered':
    case 'MessagesRead':
      return [];
    default: {
      const never: never = e;
      return never;
    }
  }
}

export function systemMessageFrame(e: MembershipEvent, streamSeq: number): MessageNew {
  const m = systemMessage(e, streamSeq);
  return {
    type: 'message.new',
    conversationId: m.conversationId,
    messageId: m.messageId,
    seq: m.seq,
    senderId: m.senderId,
    body: m.body as MessageNew['body'],
    sentAt: m.sentAt,
    cursor: encodeCursor(streamSeq),
    system: m.system!,
  };
}

export function conversationCreatedFrame(e: EventOf<'ConversationCreated'>): ServerFrameOf<'conversation.updated'> {
  return {
    type: 'conversation.updated',
    conversationId: e.conversationId,
    kind: e.kind,
    ...(e.title !== undefined ? { title: e.title } : {}),
    members: e.members.map((m) => m.userId),
    changed: ['created'],
    ...(e.description !== undefined ? { description: e.description } : {}),
    ...(e.avatarUrl !== undefined ? { avatarUrl: e.avatarUrl } : {}),
    roles: Object.fromEntries(e.members.map((m) => [m.userId, m.role])),
    by: e.createdBy,
  };
}

/** A member as the routing step sees it: members get messages with seq > joinedAfterSeq. */
export interface RouteMember {
  userId: string;
  joinedAfterSeq: number;
  role?: string;
}

/** A conversation as it is after the batch (read from the read model at plan time). */
export interface ConversationInfo {
  kind: ConversationKind;
  title: string | null;
  description: string | null;
  avatarUrl: string | null;
}

type Members = ReadonlyMap<string, RouteMember>;

/**
 * Pure: each event's members (right after the event), from the members after the batch,
 * undoing the batch's membership changes from the last event back. A member removed in the
 * batch is put back with joinedAfterSeq 0: an earlier join in the same batch takes them out
 * again, and otherwise they joined before every seq of the batch.
 */
export function membersAtEachEvent(batch: readonly StoredEvent[], after: ReadonlyMap<string, readonly RouteMember[]>): Members[] {
  const state = new Map<string, Members>();
  for (const [conv, list] of after) state.set(conv, new Map(list.map((m) => [m.userId, m])));
  const out: Members[] = new Array<Members>(batch.length);
  for (let i = batch.length - 1; i >= 0; i--) {
    const e = batch[i]!.event;
    const conv = e.conversationId;
    const cur = state.get(conv) ?? new Map<string, RouteMember>();
    out[i] = cur;
    if (e.type === 'MembersAdded' || e.type === 'MemberRemoved' || e.type === 'MemberLeft' || e.type === 'ConversationCreated') {
      const before = new Map(cur);
      if (e.type === 'MembersAdded') for (const m of e.members) before.delete(m.userId);
      else if (e.type === 'ConversationCreated') before.clear();
      else before.set(e.userId, { userId: e.userId, joinedAfterSeq: 0, role: 'member' });
      state.set(conv, before);
    }
  }
  return out;
}

const sees = (members: Members, seq: number): string[] => [...members.values()].filter((m) => m.joinedAfterSeq < seq).map((m) => m.userId);

function updatedFrame(
  conv: string,
  info: ConversationInfo | undefined,
  members: Members,
  changed: string[],
  extra: Partial<ServerFrameOf<'conversation.updated'>>,
): ServerFrameOf<'conversation.updated'> {
  const ids = [...members.keys()].sort();
  const title = extra.title ?? info?.title ?? undefined;
  const description = extra.description ?? info?.description ?? undefined;
  const avatarUrl = extra.avatarUrl ?? info?.avatarUrl ?? undefined;
  return {
    type: 'conversation.updated',
    conversationId: conv,
    kind: info?.kind ?? 'group',
    ...(title !== undefined ? { title } : {}),
    members: ids,
    changed,
    ...(description !== undefined ? { description } : {}),
    ...(avatarUrl !== undefined ? { avatarUrl } : {}),
    roles: Object.fromEntries(ids.map((u) => [u, (members.get(u)?.role ?? 'member') as Role])),
    ...(extra.userIds ? { userIds: extra.userIds } : {}),
    ...(extra.by ? { by: extra.by } : {}),
    ...(extra.member !== undefined ? { member: extra.member } : {}),
  };
}

/**
 * Pure: the live routes for a batch, in stream order. `members` holds the members (with
 * roles) of the batch's conversations after the batch's writes, `info` their metadata.
 *
 * - message.new (system messages too) to the members who see it, except the sending device;
 * - message.edited / message.deleted (everyone) to the members who see the target message;
 *   message.deleted (me) to that user's devices;
 * - conversation.updated on creation, membership, role and metadata changes to the members,
 *   and to a removed or departed user with `member: false`.
 */
export function messageRoutes(
  batch: readonly StoredEvent[],
  members: ReadonlyMap<string, readonly RouteMember[]>,
  info: ReadonlyMap<string, ConversationInfo> = new Map(),
): Route[] {
  const routes: Route[] = [];
  const at = membersAtEachEvent(batch, members);
  batch.forEach(({ streamSeq, event: e }: StoredEvent, i) => {
    const now = at[i]!;
    const push = (frame: Route['frame'], users: readonly string[], exceptDevice?: Route['exceptDevice'], direct?: Route['direct']) => {
      if (users.length) routes.push({ streamSeq, frame, users, ...(exceptDevice ? { exceptDevice } : {}), ...(direct ? { direct } : {}) });
    };
    const ev: ChatEvent = e;
    switch (ev.type) {
      case 'ConversationCreated':
        push(conversationCreatedFrame(ev), ev.members.map((m) => m.userId));
        break;
      case 'MessageSent':
        push(messageNewFrame(ev, streamSeq), sees(now, ev.seq), { userId: ev.senderId, deviceId: ev.senderDeviceId }, directPair(info.get(ev.conversationId)?.kind, now.keys()));
        break;
      case 'MembersAdded': {
        const users = sees(now, ev.seq);
        push(systemMessageFrame(ev, streamSeq), users);
        const userIds = ev.members.map((m) => m.userId);
        push(updatedFrame(ev.conversationId, info.get(ev.conversationId), now, ['members_added'], { userIds, by: ev.by, member: true }), [...now.keys()]);
        break;
      }
      case 'MemberRemoved':
      case 'MemberLeft': {
        push(systemMessageFrame(ev, streamSeq), sees(now, ev.seq));
        const changed = ev.type === 'MemberRemoved' ? 'member_removed' : 'member_left';
        const by = ev.type === 'MemberRemoved' ? ev.by : ev.userId;
        const cinfo = info.get(ev.conversationId);
        push(updatedFrame(ev.conversationId, cinfo, now, [changed], { userIds: [ev.userId], by, member: true }), [...now.keys()]);
        push(updatedFrame(ev.conversationId, cinfo, now, [changed], { userIds: [ev.userId], by, member: false }), [ev.userId]);
        break;
      }
      case 'RolesChanged': {
        // Roles as of this event: the batch's final roles, with this event's changes on top.
        const withRoles = new Map(now);
        for (const c of ev.changes) {
          const m = withRoles.get(c.userId);
          if (m) withRoles.set(c.userId, { ...m, role: c.role });
        }
        push(
          updatedFrame(ev.conversationId, info.get(ev.conversationId), withRoles, ['role_changed'], { userIds: ev.changes.map((c) => c.userId), by: ev.by }),
          [...now.keys()],
        );
        break;
      }
      case 'ConversationUpdated': {
        const changed = (['title', 'description', 'avatarUrl'] as const).filter((k) => ev[k] !== undefined);
        const meta = {
          ...(ev.title !== undefined ? { title: ev.title } : {}),
          ...(ev.description !== undefined ? { description: ev.description } : {}),
          ...(ev.avatarUrl !== undefined ? { avatarUrl: ev.avatarUrl } : {}),
        };
        push(updatedFrame(ev.conversationId, info.get(ev.conversationId), now, changed, { ...meta, by: ev.by }), [...now.keys()]);
        break;
      }
      case 'MessageEdited':
        push(
          {
            type: 'message.edited',
            conversationId: ev.conversationId,
            messageId: ev.messageId,
            seq: ev.seq,
            body: ev.body,
            editedAt: ev.at,
            cursor: encodeCursor(streamSeq),
          },
          sees(now, ev.seq),
        );
        break;
      case 'MessageDeleted':
      case 'MessageHidden': {
        const scope = ev.type === 'MessageDeleted' ? 'everyone' : 'me';
        push(
          { type: 'message.deleted', conversationId: ev.conversationId, messageId: ev.messageId, seq: ev.seq, scope, deletedAt: ev.at, cursor: encodeCursor(streamSeq) },
          ev.type === 'MessageDeleted' ? sees(now, ev.seq) : [ev.userId],
        );
        break;
      }
      case 'MessagesDelivered':
      case 'MessagesRead':
        break;
      default: {
        const never: never = ev;
        throw new Error(`unknown event ${String(never)}`);
      }
    }
  });
  return routes;
}
