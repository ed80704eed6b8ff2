export * from './client';
export * from './registry';
