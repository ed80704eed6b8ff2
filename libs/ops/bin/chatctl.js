#!/usr/bin/env node
// Runs the TypeScript CLI in this process: tsx compiles it on the fly, no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/chatctl.ts');
