export * from './mute';
export * from './user';
