/**
 * Tasks run every so often while the server runs, stopped together on stop.
 * A task may be synchronous or return a promise; a failure is reported and
 * the task runs again at its next period. A task whose last run has not
 * finished is skipped, not started again: a run stuck on a database that
 * does not answer holds a pooled connection, and starting another each
 * period would take them all. A long run (retention working through a
 * backlog) hears stop through the signal it is given. Timers are unref'd:
 * they never keep a process alive by themselves.
 */
export class PeriodicTasks {
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onError: (error: unknown) => void;
  readonly #stopped = new AbortController();

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** Runs `task` every `ms`, the first time after `firstMs` (one period by default). */
  every(ms: number, task: (signal: AbortSignal) => unknown, firstMs = ms): void {
    let running = false;
    const run = () => {
      if (running || this.#stopped.signal.aborted) return;
      running = true;
      Promise.resolve(this.#stopped.signal)
        .then(task)
        .catch(this.#onError)
        .finally(() => {
          running = false;
        });
    };
    if (firstMs === ms) {
      this.#start(setInterval(run, ms));
      return;
    }
    this.#start(
      setTimeout(() => {
        run();
        if (!this.#stopped.signal.aborted) this.#start(setInterval(run, ms));
      }, firstMs),
    );
  }

  stop(): void {
    this.#stopped.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.length = 0;
  }

  #start(timer: NodeJS.Timeout): void {
    timer.unref();
    this.#timers.push(timer);
  }
}
