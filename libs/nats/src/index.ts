export * from './connect';
export * from './eventStore';
export * from './memoryEventStore';
export * from './pullLoop';
export * from './commands';
export * from './deadLetter';
export * from './publisher';
export * from './lastActive';
