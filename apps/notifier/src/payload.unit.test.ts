import { describe, expect, it } from 'vitest';
import { classifyStatus, retryDelayMs } from './gateway';
import type { NotifyJob } from './job';
import { buildPushPayload, collapseId, pushTitle, senderList } from './payload';

const last: NotifyJob = { v: 1, jobId: '7:bob', userId: 'bob', conversationId: 'd-abc', messageId: 'm7', seq: 3, senderId: 'alice', sentAt: 't', eventSeq: 7, text: 'secret plans' };

describe('push payload', () => {
  it('is generic by default: sender, badge, collapse key; no text', () => {
    const p = buildPushPayload({ userId: 'bob', conversationId: 'd-abc', count: 1, senders: ['alice'], last, badge: 4 }, { preview: false });
    expect(p).toMatchObject({
      to: { userId: 'bob' },
      collapseKey: 'd-abc',
      notification: { title: 'New message from alice' },
      badge: 4,
      data: { conversationId: 'd-abc', messageId: 'm7', seq: 3, senderId: 'alice', count: 1 },
      apns: { headers: { 'apns-collapse-id': 'd-abc' }, payload: { aps: { alert: { title: 'New message from alice' }, badge: 4, 'thread-id': 'd-abc' } } },
      fcm: { collapse_key: 'd-abc', notification: { title: 'New message from alice', tag: 'd-abc' }, data: { badge: '4', seq: '3' } },
    });
    expect(JSON.stringify(p)).not.toContain('secret');
  });

  it('carries the text only with preview', () => {
    const p = buildPushPayload({ userId: 'bob', conversationId: 'd-abc', count: 1, senders: ['alice'], last, badge: 1 }, { preview: true });
    expect(p.notification.body).toBe('secret plans');
    expect(p.apns.payload.aps.alert.body).toBe('secret plans');
  });

  it('says how many messages a collapsed push stands for', () => {
    expect(pushTitle(3, ['alice'])).toBe('3 new messages from alice');
    expect(senderList(['a', 'b'])).toBe('a and b');
    expect(senderList(['a', 'b', 'c'])).toBe('a, b and 1 other');
    expect(senderList(['a', 'b', 'c', 'd'])).toBe('a, b and 2 others');
  });

  it('keeps the APNs collapse id within 64 bytes', () => {
    expect(collapseId('x'.repeat(64))).toBe('x'.repeat(64));
    expect(collapseId('é'.repeat(40))).toHaveLength(64);
  });
});

describe('gateway answers', () => {
  it('retries 5xx, 408 and 429, never other 4xx', () => {
    expect(classifyStatus(200)).toBe('ok');
    expect(classifyStatus(204)).toBe('ok');
    expect(classifyStatus(500)).toBe('retry');
    expect(classifyStatus(503)).toBe('retry');
    expect(classifyStatus(429)).toBe('retry');
    expect(classifyStatus(408)).toBe('retry');
    expect(classifyStatus(400)).toBe('rejected');
    expect(classifyStatus(410)).toBe('rejected');
  });

  it('backs off exponentially up to a minute', () => {
    expect([1, 2, 3, 4].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(20)).toBe(60_000);
  });
});
