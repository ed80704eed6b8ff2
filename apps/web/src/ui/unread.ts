/** What the conversation list said about a conversation, and what this page has learnt since. */
export interface UnreadState {
  /** The server's unread count as of `baseSeq` (list load or `conversation.activity`). */
  baseUnread: number;
  /** The seq of the last message the server's count covered (0: none). */
  baseSeq: number;
  /** The highest seq this user is known to have read (on this or another device); null: not known here. */
  readSeq: number | null;
}

export interface CountedMessage {
  seq?: number | undefined;
  senderId: string;
  system?: unknown;
  deleted?: boolean | undefined;
}

/**
 * The badge of a conversation: the server's count (none of it once a read at or past its last
 * message is known; exact when this page holds every message between the known read and that
 * message), plus the messages from others that arrived after it and are not read. Own messages
 * and system messages never count (docs/protocol.md, Conversation list).
 */
export function unreadCount(s: UnreadState, messages: ReadonlyMap<number, CountedMessage>, me: string): number {
  const counts = (m: CountedMessage | undefined) => m !== undefined && m.senderId !== me && !m.system && !m.deleted;
  let base = s.baseUnread;
  if (s.readSeq !== null) {
    if (s.readSeq >= s.baseSeq) base = 0;
    else {
      let held = true;
      let exact = 0;
      for (let seq = s.readSeq + 1; seq <= s.baseSeq && held; seq++) {
        const m = messages.get(seq);
        if (m === undefined) held = false;
        else if (counts(m)) exact++;
      }
      if (held) base = exact;
    }
  }
  const after = Math.max(s.baseSeq, s.readSeq ?? 0);
  let n = base;
  for (const [seq, m] of messages) if (seq > after && counts(m)) n++;
  return n;
}
