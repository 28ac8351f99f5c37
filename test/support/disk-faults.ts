// Real storage faults for tests: a tiny tmpfs that can be filled, and an
// ext4 file system on a loop device that the kernel can be made to turn
// read-only (as it does on a disk error with errors=remount-ro). Both need
// root; `mountSkipReason` says why not, for the test to skip loudly.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import pino, { type Logger } from 'pino';

export interface Mounted {
  readonly dir: string;
  /** Unmounts and removes what was made; safe to call twice and after a failure. */
  cleanup(): void;
}

/** Why mounting cannot work here, or undefined when it can: it tries a tiny tmpfs. */
export function mountSkipReason(): string | undefined {
  if (process.platform !== 'linux')
    return `storage-fault tests need Linux (this is ${process.platform}): SKIPPED, this storage fault was NOT tested`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'mounting a tmpfs or a loop device needs root (CI runs as root): SKIPPED, this storage fault was NOT tested';
  }
  const dir = mkdtempSync(join(tmpdir(), 'codecast-mount-check-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    run('umount', [dir]);
    return undefined;
  } catch (error) {
    const said = (error as { stderr?: string }).stderr?.trim() || String(error);
    return `root cannot mount here (a container without CAP_SYS_ADMIN?): ${said}; SKIPPED, this storage fault was NOT tested`;
  } finally {
    quietly(() => rmSync(dir, { recursive: true, force: true }));
  }
}

function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quietly(task: () => unknown): void {
  try {
    task();
  } catch {
    // cleanup goes on with the next step
  }
}

/** A tmpfs of `sizeBytes` on a fresh directory. */
export function mountTmpfs(sizeBytes: number): Mounted {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-tmpfs-'));
  run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir]);
  let mounted = true;
  return {
    dir,
    cleanup() {
      if (mounted) quietly(() => run('umount', ['-l', dir]));
      mounted = false;
      quietly(() => rmSync(dir, { recursive: true, force: true }));
    },
  };
}

/**
 * Writes a filler file until the file system answers ENOSPC, in ever
 * smaller pieces so that not even a partial page is left.
 */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'a');
  try {
    for (const size of [256 * 1024, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

export interface Ext4Mount extends Mounted {
  /** Why this kernel cannot be made to fail the file system, or undefined. */
  readonly cannotFail: string | undefined;
  /** Makes the kernel record a file-system error: with errors=remount-ro it turns the file system read-only. */
  failReadOnly(): void;
}

/** An ext4 file system of `sizeBytes` in an image file, mounted over a loop device with errors=remount-ro. */
export function mountExt4(sizeBytes: number): Ext4Mount {
  const base = mkdtempSync(join(tmpdir(), 'codecast-ext4-'));
  const image = join(base, 'disk.img');
  const dir = join(base, 'mnt');
  let mounted = false;
  const cleanup = () => {
    // Lazy, so a file the server still holds open cannot keep it mounted;
    // the loop device goes with the last reference (autoclear).
    if (mounted) quietly(() => run('umount', ['-l', dir]));
    mounted = false;
    quietly(() => rmSync(base, { recursive: true, force: true }));
  };
  try {
    writeFileSync(image, '');
    run('truncate', ['-s', String(sizeBytes), image]);
    run('mkfs.ext4', ['-q', '-F', image]);
    run('mkdir', ['-p', dir]);
    run('mount', ['-o', 'loop,errors=remount-ro', image, dir]);
    mounted = true;
  } catch (error) {
    cleanup();
    throw error;
  }
  const device = basename(run('findmnt', ['-n', '-o', 'SOURCE', dir]).trim());
  const trigger = `/sys/fs/ext4/${device}/trigger_fs_error`;
  return {
    dir,
    cleanup,
    cannotFail: existsSync(trigger)
      ? undefined
      : `${trigger} does not exist: this kernel cannot record an ext4 error on demand; SKIPPED, this storage fault was NOT tested`,
    failReadOnly() {
      writeFileSync(trigger, 'codecast storage-fault test');
    },
  };
}

/** Why ext4 on a loop device cannot work here, or undefined when it can. */
export function ext4SkipReason(): string | undefined {
  const reason = mountSkipReason();
  if (reason) return reason;
  for (const tool of ['mkfs.ext4', 'findmnt', 'truncate']) {
    try {
      run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} is not installed: the read-only test needs it; SKIPPED, this storage fault was NOT tested`;
    }
  }
  if (!existsSync('/dev/loop-control')) return 'no loop devices here (/dev/loop-control): SKIPPED, this storage fault was NOT tested';
  return undefined;
}

/** A pino logger whose JSON lines land in `lines`, parsed. */
export function capturingLogger(lines: Record<string, unknown>[]): Logger {
  return pino(
    { level: 'info' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
}
