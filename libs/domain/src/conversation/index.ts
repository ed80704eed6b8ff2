export * from './state';
export * from './evolve';
export * from './decide';
export * from './rules';
export { requireMember } from './guards';
export * from './answer';
export * from './permissions';
export * from './snapshot';
