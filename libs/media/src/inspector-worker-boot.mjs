// The entry of a MediaInspector worker thread. The worker itself is TypeScript; on Node 20 a
// worker inherits neither the parent's tsx hooks nor an `--import tsx` in its execArgv, so it
// is loaded through tsx's API here. Plain JavaScript: it runs before any TypeScript can.
import { tsImport } from 'tsx/esm/api';

await tsImport('./inspector-worker.ts', import.meta.url);
