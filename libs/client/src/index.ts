export * from './client';
export type { ServerFrame, ServerFrameOf, ClientFrame, MessageBody } from '@chat/contracts';
