export * from './namespace';
export * from './apps';
export * from './limits';
export * from './metrics';
