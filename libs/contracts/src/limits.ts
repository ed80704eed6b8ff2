/** Protocol limits; each is documented in PROTOCOL.md and docs/protocol.md. */
export const LIMITS = {
  /** Largest WebSocket frame the edge accepts; larger ones close the socket with 1009. */
  maxFrameBytes: 64 * 1024,
  /** Longest text body, in UTF-16 code units. */
  maxTextLength: 16_000,
  /** Largest `sync` batch a client may ask for. */
  maxSyncLimit: 500,
  defaultSyncLimit: 100,
  /** Largest history page. */
  maxHistoryLimit: 100,
  defaultHistoryLimit: 50,
  /** Largest conversation-list page. */
  maxConversationPage: 100,
  defaultConversationPage: 20,
  /** How long a `clientMsgId` is remembered for idempotent retries. */
  clientMsgIdWindowMs: 24 * 60 * 60 * 1000,
} as const;
