export * from './state';
export * from './evolve';
export * from './decide';
export * from './answer';
