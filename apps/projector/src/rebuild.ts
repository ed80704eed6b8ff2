export { PROJECTION_KEYS, parseProjectionKeys, rebuildProjections, resetProjections, type ProjectionKey } from '@chat/postgres';
