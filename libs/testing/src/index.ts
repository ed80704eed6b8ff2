export * from './namespace';
export * from './apps';
export * from './limits';
