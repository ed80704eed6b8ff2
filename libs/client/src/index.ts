export * from './client';
export type { ServerFrame, ServerFrameOf, ClientFrame, MessageBody, MediaInfo, SendBody, TextBody } from '@chat/contracts';
/** Errors of the contract's vocabulary: `code` is one of ERROR_CODES (docs/protocol.md, Error codes). */
export { ChatError, ERROR_CODES, type ErrorCode } from '@chat/contracts';
