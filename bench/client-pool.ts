import { fork, type ChildProcess } from 'node:child_process';
import { extraNodeFlags } from './node-flags.js';
import { fileURLToPath } from 'node:url';
import { now, within } from './measure.js';
import type { ClientMessage, ParentMessage, SoakTally, SubscriberSpec } from './protocol.js';

const CLIENT = fileURLToPath(new URL('./client.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface OpenResult {
  readonly connected: number;
  readonly failed: number;
  /** From the first open to the last subscriber's hello, on the parent's clock. */
  readonly ms: number;
  readonly errors: Record<string, number>;
}

interface Child {
  readonly process: ChildProcess;
  /** Index of its first subscriber in the pool's order. */
  readonly offset: number;
  readonly specs: readonly SubscriberSpec[];
  connected: number;
  failed: number;
}

interface CodeParts {
  readonly parts: (Float64Array | undefined)[];
  got: number;
  complete: boolean;
}

/**
 * The load clients: subscribers split over several forked processes (each
 * holds at most `perProcess`, well under the 20,000 open files a process may
 * have), driven over IPC with structured-clone serialization so receive
 * times travel as Float64Arrays.
 */
export class ClientPool {
  readonly #children: Child[];
  readonly #size: number;
  readonly #codes = new Map<number, CodeParts>();
  #waiters: { resolve: () => void; test: () => boolean }[] = [];
  #opened = 0;
  #flushed = 0;
  #status: { open: number; closes: Record<string, number> }[] = [];
  readonly #closes: Record<string, number>[] = [];
  readonly #openErrors: Record<string, number>[] = [];
  readonly #track: 'markers' | 'ids';
  #tallies: (SoakTally | undefined)[] = [];

  private constructor(children: Child[], size: number, track: 'markers' | 'ids') {
    this.#children = children;
    this.#size = size;
    this.#track = track;
    for (const [i, child] of children.entries()) child.process.on('message', (m: ClientMessage) => this.#onMessage(i, m));
  }

  /**
   * Forks ceil(N / perProcess) client processes and gives each an even share
   * of `specs`. `track: 'ids'` makes them soak clients (see client.ts).
   */
  static start(specs: readonly SubscriberSpec[], perProcess: number, track: 'markers' | 'ids' = 'markers'): ClientPool {
    const count = Math.max(1, Math.ceil(specs.length / perProcess));
    const share = Math.ceil(specs.length / count);
    const children: Child[] = [];
    for (let i = 0; i < count; i++) {
      const mine = specs.slice(i * share, (i + 1) * share);
      const child = fork(CLIENT, [], {
        execArgv: ['--import', TSX, ...extraNodeFlags('CODECAST_BENCH_CLIENT_FLAGS')],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push({ process: child, offset: i * share, specs: mine, connected: 0, failed: 0 });
    }
    return new ClientPool(children, specs.length, track);
  }

  get processes(): number {
    return this.#children.length;
  }

  get pids(): number[] {
    return this.#children.map((c) => c.process.pid ?? 0);
  }

  /** Which transport each subscriber (in pool order) uses. */
  transportOf(index: number): SubscriberSpec['transport'] {
    for (const child of this.#children) {
      if (index < child.offset + child.specs.length) return (child.specs[index - child.offset] as SubscriberSpec).transport;
    }
    throw new RangeError(`no subscriber ${index}`);
  }

  #send(child: Child, message: ParentMessage): void {
    child.process.send(message);
  }

  #onMessage(i: number, message: ClientMessage): void {
    const child = this.#children[i] as Child;
    switch (message.type) {
      case 'progress':
        child.connected = message.connected;
        child.failed = message.failed;
        break;
      case 'opened':
        child.connected = message.connected;
        child.failed = message.failed;
        this.#opened++;
        this.#openErrors.push(message.errors);
        break;
      case 'code': {
        let entry = this.#codes.get(message.code);
        if (!entry) {
          entry = { parts: this.#children.map(() => undefined), got: 0, complete: true };
          this.#codes.set(message.code, entry);
        }
        if (entry.parts[i] === undefined) {
          entry.parts[i] = message.times;
          entry.got++;
          if (!message.complete) entry.complete = false;
        }
        break;
      }
      case 'flushed':
        this.#flushed++;
        this.#closes[i] = message.closes;
        break;
      case 'status':
        this.#status[i] = { open: message.open, closes: message.closes };
        break;
      case 'tally': {
        const { type: _type, ...tally } = message;
        this.#tallies[i] = tally;
        break;
      }
    }
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }

  #until(test: () => boolean, timeoutMs: number): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * Opens the subscribers, `concurrency` handshakes in flight per process at
   * most: all of them, or slice `part.index` of `part.of` (each process its
   * share), so that opening can alternate between servers.
   */
  async open(
    host: string,
    port: number,
    concurrency: number,
    progress: (connected: number, failed: number) => void,
    part: { readonly index: number; readonly of: number } = { index: 0, of: 1 },
    timeoutMs = 600_000,
  ): Promise<OpenResult> {
    const started = now();
    const target = this.#opened + this.#children.length;
    this.#openErrors.length = 0;
    for (const child of this.#children) {
      const from = Math.floor((child.specs.length * part.index) / part.of);
      const to = Math.floor((child.specs.length * (part.index + 1)) / part.of);
      this.#send(child, { type: 'open', host, port, concurrency, subscribers: child.specs.slice(from, to), track: this.#track });
    }
    const ticker = setInterval(() => {
      progress(
        this.#sum((c) => c.connected),
        this.#sum((c) => c.failed),
      );
    }, 1000);
    await this.#until(() => this.#opened >= target, timeoutMs);
    clearInterval(ticker);
    const ms = now() - started;
    const errors: Record<string, number> = {};
    for (const e of this.#openErrors) for (const [k, v] of Object.entries(e)) errors[k] = (errors[k] ?? 0) + v;
    return { connected: this.#sum((c) => c.connected), failed: this.#sum((c) => c.failed), ms, errors };
  }

  #sum(f: (c: Child) => number): number {
    return this.#children.reduce((total, c) => total + f(c), 0);
  }

  /**
   * Receive times of code `k` for every subscriber in pool order (0: not
   * received), once every process has them all, or what arrived by `timeoutMs`.
   */
  async waitCode(k: number, timeoutMs: number): Promise<{ times: Float64Array; complete: boolean }> {
    const done = () => (this.#codes.get(k)?.got ?? 0) === this.#children.length;
    if (!(await this.#until(done, timeoutMs))) await this.flush([k]);
    return this.takeCode(k) as { times: Float64Array; complete: boolean };
  }

  /** Makes every process hand over what it has of these codes (or of all it holds). */
  async flush(codes: readonly number[] | 'all'): Promise<void> {
    const target = this.#flushed + this.#children.length;
    for (const child of this.#children) this.#send(child, { type: 'flush', codes });
    await this.#until(() => this.#flushed >= target, 60_000);
  }

  /** Codes handed over so far. */
  codes(): number[] {
    return [...this.#codes.keys()];
  }

  takeCode(k: number): { times: Float64Array; complete: boolean } | undefined {
    const entry = this.#codes.get(k);
    if (!entry) return undefined;
    this.#codes.delete(k);
    const times = new Float64Array(this.#size);
    entry.parts.forEach((part, i) => {
      if (part) times.set(part, (this.#children[i] as Child).offset);
    });
    return { times, complete: entry.complete && entry.got === this.#children.length };
  }

  /** Subscribers still open and why the others were closed. */
  async status(): Promise<{ open: number; closes: Record<string, number> }> {
    this.#status = [];
    for (const child of this.#children) this.#send(child, { type: 'status' });
    await this.#until(() => this.#status.filter(Boolean).length === this.#children.length, 30_000);
    const closes: Record<string, number> = {};
    let open = 0;
    for (const s of this.#status) {
      if (!s) continue;
      open += s.open;
      for (const [k, v] of Object.entries(s.closes)) closes[k] = (closes[k] ?? 0) + v;
    }
    return { open, closes };
  }

  /** Soak: each process cuts `fraction` of its connected subscribers over `spreadMs`; they come back `pauseMs` later. */
  churn(fraction: number, spreadMs: number, pauseMs: number): void {
    for (const child of this.#children) this.#send(child, { type: 'churn', fraction, spreadMs, pauseMs });
  }

  /** Soak: the counts of every process, summed (see SoakTally). */
  async tally(upTo?: number): Promise<SoakTally> {
    this.#tallies = [];
    for (const child of this.#children) this.#send(child, { type: 'tally', ...(upTo === undefined ? {} : { upTo }) });
    await this.#until(() => this.#tallies.filter(Boolean).length === this.#children.length, 30_000);
    const sum = (f: (t: SoakTally) => number) => this.#tallies.reduce((n, t) => n + (t ? f(t) : 0), 0);
    const merge = (f: (t: SoakTally) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const t of this.#tallies) if (t) for (const [k, v] of Object.entries(f(t))) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    return {
      subscribers: sum((t) => t.subscribers),
      open: sum((t) => t.open),
      reopening: sum((t) => t.reopening),
      reconnects: sum((t) => t.reconnects),
      churned: sum((t) => t.churned),
      lost: sum((t) => t.lost),
      duplicated: sum((t) => t.duplicated),
      resets: sum((t) => t.resets),
      behind: sum((t) => t.behind),
      behindSubscribers: sum((t) => t.behindSubscribers),
      closes: merge((t) => t.closes),
      reopenErrors: merge((t) => t.reopenErrors),
    };
  }

  /** Closes every subscriber and ends the processes. */
  async close(): Promise<void> {
    const exits = this.#children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
          child.process.once('exit', () => resolve());
        }),
    );
    for (const child of this.#children) {
      if (child.process.connected) this.#send(child, { type: 'close' });
    }
    const all = Promise.all(exits);
    const ended = await within(all, 10_000);
    if (!ended) for (const child of this.#children) child.process.kill('SIGKILL');
    await all;
  }
}
