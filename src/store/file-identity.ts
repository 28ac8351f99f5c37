import { statSync, type BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * The device and inode of the database file as it was opened. SQLite keeps
 * writing to the file it opened even after that file was deleted, moved or
 * replaced at its path; every such write is lost at the next start. Comparing
 * what is at the path now with what was opened is how the store notices.
 */
export class FileIdentity {
  private constructor(
    readonly path: string,
    private readonly dev: bigint,
    private readonly ino: bigint,
  ) {}

  /** Call right after opening: the file at `path` is then the one open. */
  static of(path: string): FileIdentity {
    const s = statSync(path, { bigint: true });
    return new FileIdentity(path, s.dev, s.ino);
  }

  /** What happened to the file, or undefined while it is still the one at the path. */
  async change(): Promise<string | undefined> {
    try {
      return this.#compare(await stat(this.path, { bigint: true }));
    } catch (error) {
      return this.#missing(error);
    }
  }

  /**
   * The same, synchronously: one stat, a few microseconds, cheap enough to
   * run before every commit so that no write lands in a lost file.
   */
  changeSync(): string | undefined {
    try {
      return this.#compare(statSync(this.path, { bigint: true }));
    } catch (error) {
      return this.#missing(error);
    }
  }

  #compare(s: BigIntStats): string | undefined {
    if (s.dev === this.dev && s.ino === this.ino) return undefined;
    return `the database file ${this.path} was replaced while the server ran: the file at that path is not the one the server has open`;
  }

  #missing(error: unknown): string | undefined {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return `the database file ${this.path} is no longer at its path: it (or its directory) was deleted or moved away while the server ran`;
    }
    // Cannot look (permissions, I/O): no evidence the file is gone.
    return undefined;
  }
}
