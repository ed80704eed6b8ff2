export { MediaStore, parseMediaEnv, s3ConfigFromEnv, type MediaEnv, type MediaStoreConfig } from './store';
export { createS3Client } from './client';
export { MediaInspector } from './inspector';
export type { Inspection } from './inspect';
