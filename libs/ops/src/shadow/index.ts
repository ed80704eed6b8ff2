export * from './schema';
export * from './diff';
export * from './rebuild';
export * from './format';
export * from './command';
