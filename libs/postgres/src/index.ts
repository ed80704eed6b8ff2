export * from './pool';
export * from './projections';
export * from './conversationList';
export * from './sessionLock';
export * from './readModels';
export * from './userBlocks';
