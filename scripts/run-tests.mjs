#!/usr/bin/env node
// Runs the whole suite: every test/*.test.ts with Node's test runner under
// tsx. Arguments narrow it to files whose names contain them. Before the
// tests, makes sure a PostgreSQL and a Redis answer (scripts/test-services.mjs)
// and hands their URLs to the test processes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { ensureSystemPackages } from './system-deps.mjs';
import { TestServices } from './test-services.mjs';

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
if (files.some((file) => file.includes('nginx'))) {
  // Debian's nginx runs deploy/nginx/codecast.conf in front of codecast; it
  // lives in /usr/sbin, often not on a user's PATH.
  ensureSystemPackages([{ present: () => existsSync('/usr/sbin/nginx'), pkg: 'nginx' }]);
}
if (files.some((file) => file.includes('storage-faults'))) {
  // The read-only fault is ext4 on a loop device; findmnt finds the device.
  ensureSystemPackages([
    { command: 'mkfs.ext4', pkg: 'e2fsprogs' },
    { command: 'findmnt', pkg: 'util-linux' },
  ]);
}
if (files.some((file) => file.includes('python-socketio'))) {
  // The replaced service's Python client: Debian's python-socketio and the
  // two libraries its WebSocket and long-polling transports need.
  const python = (module) => () => spawnSync('/usr/bin/python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
  ensureSystemPackages([
    { present: python('socketio'), pkg: 'python3-socketio' },
    { present: python('websocket'), pkg: 'python3-websocket' },
    { present: python('requests'), pkg: 'python3-requests' },
  ]);
}
if (files.some((file) => file.includes('cluster-faults'))) {
  // The cluster fault tests stop and start a redis-server of their own,
  // even when the shared Redis the run found is not a local one.
  ensureSystemPackages([{ command: 'redis-server', pkg: 'redis-server' }]);
}
// Private servers started for the run are stopped however it ends: the tests
// finishing, failing, or the run being interrupted. A signal goes on to the
// tests (a terminal's Ctrl-C reaches them anyway); the run ends when they do.
// While the servers are being set up (bounded waits), a first signal waits
// for that to finish so nothing half-started is left; a second one exits at
// once, and the support modules' exit hooks stop what had started.
const services = new TestServices();
let child;
let settingUp = true;
let interrupted;
let ending = false;
async function end(status) {
  if (ending) return;
  ending = true;
  await services.stop();
  process.exit(status);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    const status = 128 + constants.signals[signal];
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    else if (settingUp && interrupted === undefined) {
      interrupted = status;
      console.error(`test setup: ${signal}: stopping once the test servers are set up (again to exit now)`);
    } else if (settingUp) process.exit(status);
    else void end(status);
  });
}
const ready = await services.ensure();
settingUp = false;
if (interrupted !== undefined) await end(interrupted);
if (!ready) await end(1);

// The timeout bounds each file as a whole, not only each test in it: three
// minutes leave room for the bench's two-minute soak (test/soak-smoke.test.ts)
// with its connecting and draining.
child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, ...services.env, NODE_ENV: 'test' },
});
child.once('exit', (code, signal) => void end(code ?? (signal ? 128 + constants.signals[signal] : 1)));
child.once('error', (error) => {
  console.error(`could not run the tests: ${error.message}`);
  void end(1);
});
