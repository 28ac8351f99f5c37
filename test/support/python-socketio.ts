import { spawnSync } from 'node:child_process';

/** Debian's Python, where apt installs python3-socketio (a pyenv or venv python on PATH would not see it). */
const PYTHON = '/usr/bin/python3';

/**
 * Debian's python3-socketio (python-socketio 5), the replaced service's
 * Python client library, for the old-client tests; `npm test` installs it
 * when run as root. Missing: a skip, or a failure under CI.
 */
export function pythonSocketioForTests(): { python: string; skip?: undefined } | { python?: undefined; skip: string } {
  const found = spawnSync(PYTHON, ['-c', 'import socketio, websocket, requests'], { stdio: 'ignore' }).status === 0;
  if (found) return { python: PYTHON };
  const message =
    'python-socketio is not installed (apt-get install python3-socketio python3-websocket python3-requests; npm test installs them when run as root): the python-socketio tests are SKIPPED.';
  if (process.env.CI === 'true') throw new Error(`${message} In CI this is a failure, not a skip.`);
  console.error(`\n*** ${message} ***\n`);
  return { skip: message };
}
