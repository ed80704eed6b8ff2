export * from './conversation';
export * from './receipts';
export * from './preferences';
export * from './decider';
