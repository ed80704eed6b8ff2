/** Protocol limits; each is documented in docs/protocol.md. */
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
  /** Default largest group, the creator included (CHAT_MAX_GROUP_MEMBERS). */
  defaultMaxGroupMembers: 1024,
  /** An author may edit a message for this long (CHAT_EDIT_WINDOW). */
  defaultEditWindowMs: 15 * 60 * 1000,
  /** An author may delete a message for everyone for this long (CHAT_DELETE_WINDOW). */
  defaultDeleteWindowMs: 60 * 60 * 1000,
  /** Most mentions in one message. */
  maxMentions: 256,
  /** How long group receipts are coalesced before they are pushed. */
  receiptCoalesceMs: 250,
  /** How long a `clientMsgId` is remembered for idempotent retries… */
  clientMsgIdWindowMs: 24 * 60 * 60 * 1000,
  /** …and how many of a conversation's most recent ones at most. */
  clientMsgIdWindowEntries: 1024,
  /**
   * Message records a conversation's state keeps for replies, edits and deletes (inside the
   * longer of the two windows); an older message is looked up in the event stream.
   */
  recentMessageRecords: 256,
  /** Users one connection may watch with `presence.subscribe`. */
  maxPresenceSubscriptions: 500,
  /** A `typing` start is forwarded at most once per user and conversation in this time… */
  typingIntervalMs: 3_000,
  /** …and not at all in conversations with more members than this. */
  typingMaxMembers: 20,
  /** A receiver treats a `typing` start as ended after this long without another. */
  typingExpiresMs: 5_000,
} as const;
