export * from './mute';
