export * from './definitions';
export * from './apply';
