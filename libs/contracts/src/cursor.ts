/**
 * Sync cursors are opaque to clients. Inside they are the CHAT_EVENTS stream sequence of the
 * last inbox entry the client processed: the inbox projection applies events in stream order,
 * so "everything after this cursor" is a simple range scan.
 */
const PREFIX = 'c1_';

export function encodeCursor(streamSeq: number): string {
  return PREFIX + streamSeq.toString(36);
}

/** Returns the stream sequence, or null when the cursor is not one of ours. */
export function decodeCursor(cursor: string): number | null {
  if (!cursor.startsWith(PREFIX)) return null;
  const body = cursor.slice(PREFIX.length);
  if (!/^[0-9a-z]{1,12}$/.test(body)) return null;
  const n = parseInt(body, 36);
  return Number.isSafeInteger(n) ? n : null;
}
