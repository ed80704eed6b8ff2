import { describe, expect, it } from 'vitest';
import { conversationTitle, directPeer, hex, presenceText, previewOf, splitUsers } from './format';

describe('format', () => {
  it('names a conversation by its title, else by the other members', () => {
    expect(conversationTitle({ kind: 'group', title: 'Weekend', members: ['me', 'bob'], conversationId: 'g-1' }, 'me')).toBe('Weekend');
    expect(conversationTitle({ kind: 'direct', title: null, members: ['me', 'bob'], conversationId: 'd-1' }, 'me')).toBe('bob');
    expect(conversationTitle({ kind: 'group', title: null, members: null, conversationId: 'g-1' }, 'me')).toBe('Group');
    expect(directPeer({ kind: 'direct', members: ['bob', 'me'] }, 'me')).toBe('bob');
    expect(directPeer({ kind: 'group', members: ['bob', 'me'] }, 'me')).toBe(null);
  });

  it('shows presence as online or last seen', () => {
    const now = new Date(2026, 11, 2, 15, 0);
    expect(presenceText(undefined, now)).toBe('');
    expect(presenceText({ online: true, lastSeenAt: null }, now)).toBe('online');
    expect(presenceText({ online: false, lastSeenAt: null }, now)).toBe('');
    expect(presenceText({ online: false, lastSeenAt: new Date(2026, 11, 2, 14, 3).toISOString() }, now)).toBe('last seen 14:03');
    expect(presenceText({ online: false, lastSeenAt: new Date(2026, 10, 30, 9, 5).toISOString() }, now)).toBe('last seen 30 Nov 09:05');
  });

  it('previews bodies', () => {
    expect(previewOf({ text: 'hi' })).toBe('hi');
    expect(previewOf(null)).toBe('Message deleted');
    const media = { mediaId: 'm1', contentType: 'image/png', size: 3, sha256: 'a'.repeat(64) };
    expect(previewOf({ media })).toBe('Photo');
    expect(previewOf({ media, text: 'look' })).toBe('Photo: look');
    expect(previewOf({ media: { ...media, contentType: 'application/pdf' } })).toBe('File');
  });

  it('splits member lists and hex-encodes digests', () => {
    expect(splitUsers(' bob, carol  bob;dave ')).toEqual(['bob', 'carol', 'dave']);
    expect(splitUsers('  ')).toEqual([]);
    expect(hex(new Uint8Array([0, 15, 255]).buffer)).toBe('000fff');
  });
});
