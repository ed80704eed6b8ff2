/**
 * The one error vocabulary (docs/protocol.md "Error codes"), mapped in one table to HTTP statuses.
 * Domain code throws/returns ChatError; adapters map it to frames and responses.
 */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'rate_limited',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

/** WebSocket close codes the edge uses (RFC 6455 + docs/protocol.md). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  /** Sent by the WebSocket library for a text frame that is not valid UTF-8. */
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
  /** Replaced by a newer connection of the same user and device. */
  replaced: 4001,
  /**
   * The token was missing, invalid or expired (sent after an `error` frame with code
   * `unauthorized`), or a live connection's token expired. Browsers cannot read an HTTP 401 on
   * an upgrade, so a token given in the query string is refused this way.
   */
  unauthorized: 4401,
} as const;

export class ChatError extends Error {
  /** For `rate_limited`: when the client may try again, in milliseconds. */
  readonly retryAfterMs?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = 'ChatError';
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = Math.max(0, Math.ceil(options.retryAfterMs));
  }
}

export const isChatError = (e: unknown): e is ChatError => e instanceof ChatError;
