#!/usr/bin/env node
// Runs the whole suite: every test/*.test.ts with Node's test runner under
// tsx. Arguments narrow it to files whose names contain them.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { ensureSystemPackages } from './system-deps.mjs';

const filters = process.argv.slice(2);
const files = readdirSync('test')
  .filter((name) => name.endsWith('.test.ts'))
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort()
  .map((name) => `test/${name}`);
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}
if (files.some((file) => file.includes('web-'))) {
  ensureSystemPackages([{ command: 'chromium', pkg: 'chromium' }]);
}
if (files.some((file) => file.includes('storage-faults'))) {
  // The read-only fault is ext4 on a loop device; findmnt finds the device.
  ensureSystemPackages([
    { command: 'mkfs.ext4', pkg: 'e2fsprogs' },
    { command: 'findmnt', pkg: 'util-linux' },
  ]);
}
// The timeout bounds each file as a whole, not only each test in it: three
// minutes leave room for the bench's two-minute soak (test/soak-smoke.test.ts)
// with its connecting and draining.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
