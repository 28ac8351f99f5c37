import { createHash } from 'node:crypto';
import type { RedisLink } from '../broker/index.js';

/**
 * A Lua script run by its SHA1 (`EVALSHA`), sent in full (`EVAL`) only when
 * Redis does not know it: the first time, and after Redis restarted empty.
 * A script runs atomically, which is what the cluster's counts rely on.
 */
export class RedisScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  async run<T>(link: RedisLink, keys: readonly string[], args: readonly string[], timeoutMs: number): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await link.command<T>(['EVALSHA', this.#sha, ...tail], timeoutMs);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return link.command<T>(['EVAL', this.#source, ...tail], timeoutMs);
    }
  }
}
