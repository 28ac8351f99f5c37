/**
 * Tasks run every so often while the server runs, stopped together on stop.
 * A task may be synchronous or return a promise; a failure is reported and
 * the task runs again at its next period. Timers are unref'd: they never
 * keep a process alive by themselves.
 */
export class PeriodicTasks {
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  every(ms: number, task: () => unknown): void {
    const timer = setInterval(() => {
      Promise.resolve().then(task).catch(this.#onError);
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.length = 0;
  }
}
