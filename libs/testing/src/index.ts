export * from './namespace';
export * from './apps';
