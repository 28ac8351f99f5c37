// Installs the system packages the suite needs (Debian's), when missing.
// CI runs as root with no standard input; elsewhere we try, and say what to
// do when we cannot.
import { spawnSync } from 'node:child_process';

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

/** @param {{command: string, pkg: string}[]} needs */
export function ensureSystemPackages(needs) {
  const missing = needs.filter((need) => !has(need.command));
  if (missing.length === 0) return true;
  const packages = missing.map((need) => need.pkg);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !has('apt-get')) {
    console.error(`test setup: missing ${packages.join(', ')}; install them (apt-get install ${packages.join(' ')}) — the tests that need them will skip`);
    return false;
  }
  console.error(`test setup: installing ${packages.join(', ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
  const ok = run(['update', '-qq']) && run(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
  if (!ok) console.error(`test setup: apt-get could not install ${packages.join(', ')}`);
  return ok && missing.every((need) => has(need.command));
}
