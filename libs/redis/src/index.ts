export * from './client';
export * from './registry';
export * from './conversationList';
export * from './rateLimiter';
export * from './presence';
