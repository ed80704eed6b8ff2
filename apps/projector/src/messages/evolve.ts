import { encodeCursor, type EventOf, type MessageNew, type ServerFrameOf } from '@chat/contracts';
import type { StoredEvent } from '../projection';
import type { Route } from '../routing';

export interface ConversationRow {
  id: string;
  kind: 'direct' | 'group';
  title: string | null;
  createdBy: string;
  createdAt: string;
}
export interface MemberRow {
  conversationId: string;
  userId: string;
  role: string;
  joinedAt: string;
}
export interface MessageRow {
  conversationId: string;
  seq: number;
  messageId: string;
  senderId: string;
  senderDeviceId: string;
  clientMsgId: string;
  body: unknown;
  replyTo: string | null;
  sentAt: string;
  streamSeq: number;
}

/** What one event changes in the messages read model (conversations, members, messages, inbox). */
export type MessagesChange =
  | { kind: 'conversation'; conversation: ConversationRow; members: MemberRow[] }
  /** The message row; the store adds one inbox row per member (sender included) at streamSeq. */
  | { kind: 'message'; message: MessageRow };

export function messagesChange({ streamSeq, event: e }: StoredEvent): MessagesChange | null {
  switch (e.type) {
    case 'ConversationCreated':
      return {
        kind: 'conversation',
        conversation: { id: e.conversationId, kind: e.kind, title: e.title ?? null, createdBy: e.createdBy, createdAt: e.at },
        members: e.members.map((m) => ({ conversationId: e.conversationId, userId: m.userId, role: m.role, joinedAt: e.at })),
      };
    case 'MessageSent':
      return {
        kind: 'message',
        message: {
          conversationId: e.conversationId,
          seq: e.seq,
          messageId: e.messageId,
          senderId: e.senderId,
          senderDeviceId: e.senderDeviceId,
          clientMsgId: e.clientMsgId,
          body: e.body,
          replyTo: e.replyTo ?? null,
          sentAt: e.sentAt,
          streamSeq,
        },
      };
    case 'MessagesDelivered':
    case 'MessagesRead':
      return null;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** The live frame for a message; its cursor is the event's stream sequence, like the inbox row's. */
export function messageNewFrame(e: EventOf<'MessageSent'>, streamSeq: number): MessageNew {
  return {
    type: 'message.new',
    conversationId: e.conversationId,
    messageId: e.messageId,
    seq: e.seq,
    senderId: e.senderId,
    body: e.body,
    sentAt: e.sentAt,
    ...(e.replyTo !== undefined ? { replyTo: e.replyTo } : {}),
    cursor: encodeCursor(streamSeq),
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
  };
}

/** A member as the routing step sees it: members get messages with seq > joinedAfterSeq. */
export interface RouteMember {
  userId: string;
  joinedAfterSeq: number;
}

/**
 * Pure: the live routes for a batch, in stream order. `members` holds the current members of
 * the batch's conversations (read after the batch's writes).
 */
export function messageRoutes(batch: readonly StoredEvent[], members: ReadonlyMap<string, readonly RouteMember[]>): Route[] {
  const routes: Route[] = [];
  for (const { streamSeq, event: e } of batch) {
    if (e.type === 'ConversationCreated') {
      routes.push({ streamSeq, frame: conversationCreatedFrame(e), users: e.members.map((m) => m.userId) });
    } else if (e.type === 'MessageSent') {
      const users = (members.get(e.conversationId) ?? []).filter((m) => m.joinedAfterSeq < e.seq).map((m) => m.userId);
      routes.push({
        streamSeq,
        frame: messageNewFrame(e, streamSeq),
        users,
        exceptDevice: { userId: e.senderId, deviceId: e.senderDeviceId },
      });
    }
  }
  return routes;
}
