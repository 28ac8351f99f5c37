// Installs the system packages the suite needs (Debian's), when missing.
// CI runs as root with no standard input; elsewhere we try, and say what to
// do when we cannot.
import { spawnSync } from 'node:child_process';

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

// The package lists are fetched once a run, however many needs come up.
let updated = false;

/**
 * A need is met when `present()` says so (for programs kept out of PATH,
 * like Debian's PostgreSQL server binaries), else when `command` is on PATH.
 * @param {{command?: string, present?: () => boolean, pkg: string}[]} needs
 */
export function ensureSystemPackages(needs) {
  const met = (need) => (need.present ? need.present() : has(need.command));
  const missing = needs.filter((need) => !met(need));
  if (missing.length === 0) return true;
  const packages = missing.map((need) => need.pkg);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !has('apt-get')) {
    console.error(
      `test setup: missing ${packages.join(', ')}; install them (apt-get install ${packages.join(' ')}) — the tests that need them will skip`,
    );
    return false;
  }
  console.error(`test setup: installing ${packages.join(', ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
  if (!updated) updated = run(['update', '-qq']);
  const ok = updated && run(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
  if (!ok) console.error(`test setup: apt-get could not install ${packages.join(', ')}`);
  return ok && missing.every(met);
}
