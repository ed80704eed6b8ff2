export { MediaStore, parseMediaEnv, type MediaEnv, type MediaStoreConfig } from './store';
export { MediaInspector } from './inspector';
export type { Inspection } from './inspect';
