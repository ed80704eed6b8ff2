import type * as contracts from '@chat/contracts';

export * from './client';
export { ChatHttp, ChatHttpError, type ChatHttpOptions, type TokenSource } from './httpApi';
export { memoryStorage, indexedDbStorage, type ChatStorage } from './storage';
/** Errors of the contract's vocabulary: `code` is one of ERROR_CODES (docs/protocol.md, Error codes). */
export { ChatError, ERROR_CODES, CLOSE_CODES, isChatError } from '@chat/contracts';
export type { ServerFrameOf, ErrorCode } from '@chat/contracts';

// The contract's types, as aliases: the zod schemas behind them are not part of this package's API.
export type ServerFrame = contracts.ServerFrame;
export type ClientFrame = contracts.ClientFrame;
export type MessageBody = contracts.MessageBody;
export type MediaInfo = contracts.MediaInfo;
export type SendBody = contracts.SendBody;
export type TextBody = contracts.TextBody;
export type ConversationListPage = contracts.ConversationListPage;
export type ConversationListEntry = contracts.ConversationListEntry;
export type HistoryPage = contracts.HistoryPage;
export type HistoryMessage = contracts.HistoryMessage;
export type ReceiptsBody = contracts.ReceiptsBody;
export type UserPresence = contracts.UserPresence;
export type MediaUploadRequest = contracts.MediaUploadRequest;
export type MediaUpload = contracts.MediaUpload;
export type MediaReady = contracts.MediaReady;
