import { createHash } from 'node:crypto';
import type { NotifyJob } from './job';

/** What one push says: the newest job of the (user, conversation) plus how many it stands for. */
export interface PushContent {
  userId: string;
  conversationId: string;
  /** Jobs (messages) collapsed into this push, ≥ 1. */
  count: number;
  /** Distinct senders in the order they first wrote. */
  senders: string[];
  last: NotifyJob;
  /** The user's total unread count (all conversations). */
  badge: number;
}

/**
 * The body POSTed to CHAT_PUSH_URL (docs/notifications.md): a provider-neutral part plus ready
 * `apns` and `fcm` sections, so a relay can forward either one unchanged.
 */
export interface PushPayload {
  to: { userId: string };
  collapseKey: string;
  notification: { title: string; body?: string };
  badge: number;
  data: { conversationId: string; messageId: string; seq: number; senderId: string; count: number };
  apns: {
    headers: { 'apns-collapse-id': string; 'apns-push-type': 'alert'; 'apns-priority': '10' };
    payload: {
      aps: { alert: { title: string; body?: string }; badge: number; 'thread-id': string; sound: 'default' };
      conversationId: string;
      messageId: string;
      seq: number;
    };
  };
  fcm: {
    collapse_key: string;
    notification: { title: string; body?: string; tag: string };
    data: Record<string, string>;
  };
}

const PREVIEW_CHARS = 200;

/** "alice", "alice and bob", "alice, bob and 2 others". */
export function senderList(senders: readonly string[]): string {
  if (senders.length <= 1) return senders[0] ?? 'someone';
  if (senders.length === 2) return `${senders[0]} and ${senders[1]}`;
  const rest = senders.length - 2;
  return `${senders[0]}, ${senders[1]} and ${rest} other${rest === 1 ? '' : 's'}`;
}

/** "New message from alice" or "3 new messages from alice and bob"; never the text. */
export function pushTitle(count: number, senders: readonly string[]): string {
  return count <= 1 ? `New message from ${senderList(senders)}` : `${count} new messages from ${senderList(senders)}`;
}

/** APNs limits apns-collapse-id to 64 bytes: longer keys are hashed. */
export function collapseId(conversationId: string): string {
  return Buffer.byteLength(conversationId) <= 64 ? conversationId : createHash('sha256').update(conversationId).digest('hex').slice(0, 64);
}

export function buildPushPayload(c: PushContent, opts: { preview: boolean }): PushPayload {
  const title = pushTitle(c.count, c.senders);
  const text = opts.preview && c.last.text !== undefined ? Array.from(c.last.text).slice(0, PREVIEW_CHARS).join('') : undefined;
  const alert = text !== undefined ? { title, body: text } : { title };
  const key = collapseId(c.conversationId);
  const data = { conversationId: c.conversationId, messageId: c.last.messageId, seq: c.last.seq, senderId: c.last.senderId, count: c.count };
  return {
    to: { userId: c.userId },
    collapseKey: key,
    notification: alert,
    badge: c.badge,
    data,
    apns: {
      headers: { 'apns-collapse-id': key, 'apns-push-type': 'alert', 'apns-priority': '10' },
      payload: {
        aps: { alert, badge: c.badge, 'thread-id': c.conversationId, sound: 'default' },
        conversationId: c.conversationId,
        messageId: c.last.messageId,
        seq: c.last.seq,
      },
    },
    fcm: {
      collapse_key: key,
      notification: { ...alert, tag: key },
      // FCM data values are strings.
      data: Object.fromEntries(Object.entries({ ...data, badge: c.badge }).map(([k, v]) => [k, String(v)])),
    },
  };
}
