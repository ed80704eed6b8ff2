import type { ConversationSnapshotState } from '@chat/contracts';
import { OrderedMap } from 'immutable';
import { Recent } from './recent';
import type { ActiveConversation, ConversationState, MessageRecord, SentRecord } from './state';
import { DEFAULT_STATE_LIMITS, sentKey, type StateLimits } from './state';

/**
 * A conversation's state as a snapshot holds it (JSON, see @chat/contracts' Snapshot), or
 * undefined for a conversation that does not exist. Records past the limits' windows, measured
 * from the newest event, are left out: a snapshot holds what decisions need and nothing older.
 */
export function conversationToSnapshot(state: ConversationState, limits: StateLimits = DEFAULT_STATE_LIMITS): ConversationSnapshotState | undefined {
  if (state.status !== 'active') return undefined;
  const now = Date.parse(state.lastEventAt);
  const sent = [...state.sent]
    .filter(([, r]) => Date.parse(r.sentAt) >= now - limits.sentWindowMs)
    .slice(-limits.maxSent)
    .map(([key, r]) => ({ senderId: key.slice(0, key.indexOf('\u0000')), clientMsgId: key.slice(key.indexOf('\u0000') + 1), ...r }));
  const messages = [...state.messages]
    .filter(([, r]) => r.sentAtMs >= now - limits.messageWindowMs)
    .slice(-limits.maxMessages)
    .map(([messageId, r]) => ({ messageId, ...r }));
  return {
    status: 'active',
    conversationId: state.conversationId,
    kind: state.kind,
    ...(state.title !== undefined ? { title: state.title } : {}),
    ...(state.description !== undefined ? { description: state.description } : {}),
    ...(state.avatarUrl !== undefined ? { avatarUrl: state.avatarUrl } : {}),
    createdBy: state.createdBy,
    createdAt: state.createdAt,
    members: [...state.members].map(([userId, m]) => ({ userId, role: m.role, joinedAfterSeq: m.joinedAfterSeq })),
    lastSeq: state.lastSeq,
    lastEventAt: state.lastEventAt,
    ...(state.lastMessage ? { lastMessage: { ...state.lastMessage } } : {}),
    sent,
    messages,
  };
}

/** The state a snapshot holds; the subject's events after its position are folded on top. */
export function conversationFromSnapshot(s: ConversationSnapshotState): ActiveConversation {
  return {
    status: 'active',
    conversationId: s.conversationId,
    kind: s.kind,
    ...(s.title !== undefined ? { title: s.title } : {}),
    ...(s.description !== undefined ? { description: s.description } : {}),
    ...(s.avatarUrl !== undefined ? { avatarUrl: s.avatarUrl } : {}),
    createdBy: s.createdBy,
    createdAt: s.createdAt,
    members: OrderedMap(s.members.map((m) => [m.userId, { role: m.role, joinedAfterSeq: m.joinedAfterSeq }])),
    lastSeq: s.lastSeq,
    lastEventAt: s.lastEventAt,
    ...(s.lastMessage ? { lastMessage: { ...s.lastMessage } } : {}),
    sent: Recent.of(s.sent.map((r): [string, SentRecord] => [sentKey(r.senderId, r.clientMsgId), { messageId: r.messageId, seq: r.seq, sentAt: r.sentAt }])),
    messages: Recent.of(s.messages.map((r): [string, MessageRecord] => [r.messageId, { seq: r.seq, senderId: r.senderId, sentAtMs: r.sentAtMs, deleted: r.deleted }])),
  };
}

/**
 * About how many bytes of memory a state takes (persistent maps and strings, measured roughly: a
 * state with full windows of client ids and message records takes about 300 KB): what
 * the command service's cache counts against its byte budget. Constant time for a state whose
 * maps are bounded by StateLimits.
 */
export function conversationStateBytes(state: ConversationState): number {
  if (state.status !== 'active') return 64;
  return 600 + state.members.size * 160 + state.sent.size * 240 + state.messages.size * 240;
}
