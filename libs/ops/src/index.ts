export * from './config';
export * from './token';
export * from './database';
export * from './migrate';
export * from './streams';
export * from './table';
export * from './cache';
export * from './dlq';
