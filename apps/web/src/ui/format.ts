import type { MessageBody } from '@chat/contracts';

/** A conversation's name in the list and the header: its title, else the other members. */
export function conversationTitle(c: { kind: 'direct' | 'group'; title: string | null; members: readonly string[] | null; conversationId: string }, me: string): string {
  if (c.title) return c.title;
  const others = (c.members ?? []).filter((m) => m !== me);
  if (others.length) return others.join(', ');
  return c.kind === 'direct' ? c.conversationId : 'Group';
}

/** The other member of a direct conversation, if known. */
export function directPeer(c: { kind: 'direct' | 'group'; members: readonly string[] | null }, me: string): string | null {
  if (c.kind !== 'direct') return null;
  return (c.members ?? []).find((m) => m !== me) ?? null;
}

export function timeOf(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** "online", "last seen 14:03", "last seen 2 Dec 14:03", or '' when never seen. */
export function presenceText(p: { online: boolean; lastSeenAt: string | null } | undefined, now: Date = new Date()): string {
  if (!p) return '';
  if (p.online) return 'online';
  if (!p.lastSeenAt) return '';
  const at = new Date(p.lastSeenAt);
  if (Number.isNaN(at.getTime())) return '';
  const sameDay = at.toDateString() === now.toDateString();
  const day = sameDay ? '' : `${at.getDate()} ${at.toLocaleString('en', { month: 'short' })} `;
  return `last seen ${day}${timeOf(p.lastSeenAt)}`;
}

/** A one-line preview of a body for the list. */
export function previewOf(body: MessageBody | null): string {
  if (!body) return 'Message deleted';
  if ('media' in body) {
    const kind = body.media.contentType.startsWith('image/') ? 'Photo' : 'File';
    return body.text ? `${kind}: ${body.text}` : kind;
  }
  return body.text;
}

/** Parses "bob, carol bob" into distinct ids, keeping their order. */
export function splitUsers(input: string): string[] {
  return [...new Set(input.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

/** Lowercase hex of bytes (the SHA-256 `POST /v1/media` takes). */
export function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
