import { readdirSync, readFileSync } from 'node:fs';

/**
 * Milliseconds on CLOCK_MONOTONIC, which every process of the machine shares
 * (libuv's hrtime; V8's profiler clock is the same one, in µs). The publisher
 * and every client process stamp times with it, so a receive time minus a
 * publish time is a latency without any clock offset between processes.
 */
export function now(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Open file descriptors of a process (entries of /proc/<pid>/fd): sockets, the database, pipes. */
export function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

const CLOCK_TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/** Resident set size of a process, in KB (VmRSS in /proc/<pid>/status). */
export function rssKb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used so far, in ms (/proc/<pid>/stat, 10 ms ticks). */
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Nearest-rank percentile of already sorted values; null when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function median(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  return percentile(known, 50);
}

export function round(value: number | null, digits = 1): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Whether `promise` settles within `ms`; leaves no timer behind either way. */
export function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/** `read` summed over processes (a cluster's nodes); null when there are none or one cannot be read. */
function summed(pids: readonly number[], read: (pid: number) => number | null): number | null {
  if (pids.length === 0) return null;
  let total = 0;
  for (const pid of pids) {
    const value = read(pid);
    if (value === null) return null;
    total += value;
  }
  return total;
}

/** CPU time of several processes together, in ms (see `cpuMs`). */
export const cpuMsOf = (pids: readonly number[]): number | null => summed(pids, cpuMs);

/** RSS of several processes together, in KB (see `rssKb`). */
export const rssKbOf = (pids: readonly number[]): number | null => summed(pids, rssKb);

/** Bytes a process has handed to write() and its kin so far, sockets included (wchar in /proc/<pid>/io). */
export function writtenBytes(pid: number): number | null {
  try {
    const match = /^wchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Bytes written by several processes together (see `writtenBytes`). */
export const writtenBytesOf = (pids: readonly number[]): number | null => summed(pids, writtenBytes);
