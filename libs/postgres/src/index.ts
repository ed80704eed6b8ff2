export * from './pool';
export * from './projections';
