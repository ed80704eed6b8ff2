export {
  PROJECTION_KEYS,
  parseProjectionKeys,
  rebuildProjections,
  resetProjections,
  type ProjectionKey,
  type RebuildSeed,
  type SeedReport,
} from '@chat/postgres';
