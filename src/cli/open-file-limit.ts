import { readFileSync } from 'node:fs';

/** Descriptors the server uses besides its connections: the database, Redis, the listener, logs, Node itself. */
const OVERHEAD = 256;

/** The soft limit on open files of this process, from /proc (Linux); undefined where it cannot be read. */
export function openFileLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limits, 'utf8')
      .split('\n')
      .find((row) => row.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft === undefined || soft === 'unlimited') return undefined;
    const value = Number(soft);
    return Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A warning when the open-file limit is too low for the connections the
 * settings allow: past it, accepting a connection fails with EMFILE, long
 * before CODECAST_MAX_CONNECTIONS answers a clear 503.
 */
export function openFileWarning(limit: number | undefined, maxConnections: number, maxPending: number): string | undefined {
  if (limit === undefined) return undefined;
  const needed = maxConnections + maxPending + OVERHEAD;
  if (limit >= needed) return undefined;
  return (
    `the open-file limit is ${limit}, below the ${needed} that CODECAST_MAX_CONNECTIONS (${maxConnections}) and ` +
    `CODECAST_MAX_PENDING_CONNECTIONS (${maxPending}) need with ${OVERHEAD} to spare: connections past it fail to open. ` +
    `Raise it (ulimit -n ${needed}; LimitNOFILE=${needed} in a systemd unit; --ulimit nofile=${needed} for docker), ` +
    'or lower CODECAST_MAX_CONNECTIONS'
  );
}
