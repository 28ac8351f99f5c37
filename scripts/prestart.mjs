#!/usr/bin/env node
// Before `npm start`: builds dist/ from src/ when the TypeScript compiler is
// installed (a checkout, `npm install`), so the quick start is two commands.
// A production install has no compiler (`npm ci --omit=dev` after a build):
// it starts the dist/ it was given, and says what to do when there is none.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  tsc = undefined;
}

if (tsc) {
  const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
  process.exit(built.status ?? 1);
}
if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  console.error(
    'codecast: dist/ is not built and TypeScript is not installed (a production install?).\n' +
      'Build once with the dev dependencies (npm ci && npm run build), then `npm prune --omit=dev`.',
  );
  process.exit(1);
}
