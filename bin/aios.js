#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step), which also lets `aios start --app ./app.ts` load user modules.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
