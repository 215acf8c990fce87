#!/usr/bin/env node
// npm run bench -- <name> [--quick]: runs bench/<name>.ts (no build step).
import { register } from 'tsx/esm/api';
import { readdirSync } from 'node:fs';

register();
const name = process.argv[2];
const names = readdirSync(new URL('../bench/', import.meta.url)).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).map((f) => f.slice(0, -3));
if (!name || !names.includes(name)) {
  console.error(`usage: npm run bench -- <${names.join('|')}> [--quick]`);
  process.exitCode = 2;
} else {
  await import(`../bench/${name}.ts`);
}
