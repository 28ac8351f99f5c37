/**
 * Tasks run every so often while the server runs, stopped together on stop.
 * A task may be synchronous or return a promise; a failure is reported and
 * the task runs again at its next period. A task whose last run has not
 * finished is skipped, not started again: a run stuck on a database that
 * does not answer holds a pooled connection, and starting another each
 * period would take them all. Timers are unref'd: they never keep a process
 * alive by themselves.
 */
export class PeriodicTasks {
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  every(ms: number, task: () => unknown): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      Promise.resolve()
        .then(task)
        .catch(this.#onError)
        .finally(() => {
          running = false;
        });
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.length = 0;
  }
}
