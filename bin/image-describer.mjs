#!/usr/bin/env node
// The published entry point runs the built JavaScript (`npm run build`, also run on install by
// `prepare`): no TypeScript compiler at start-up. `npm run describe` runs the sources through tsx.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/app/cli.mjs', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('image-describer is not built yet: run `npm run build` in its folder.\n');
  process.exit(2);
}
await import(cli.href);
