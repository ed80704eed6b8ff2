export * from './definitions';
export * from './apply';
export * from './notifications';
export * from './archive';
