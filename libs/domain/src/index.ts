export * from './conversation';
export * from './receipts';
