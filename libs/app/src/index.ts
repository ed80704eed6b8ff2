export * from './shell';
export * from './ops';
export * from './jetstreamMetrics';
export * from './metrics';
