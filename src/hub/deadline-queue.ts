interface Waiting {
  readonly run: () => void;
  readonly reject: (error: unknown) => void;
  readonly queuedAtMs: number;
  readonly deadlineMs: number;
}

/**
 * Runs tasks, at most `concurrency` at a time (one unless told), starting
 * them in the order they came, and gives each a deadline to *start*: a task still waiting `deadlineMs` after it was queued
 * is rejected with the error `expired` makes, and never runs. The task that
 * runs is never abandoned: it may be halfway through a commit, and only its
 * own outcome says whether it happened.
 *
 * Every task waits the same time, so the oldest waiting task is always the
 * first to expire: one timer, on the head of the queue, serves them all.
 */
export class DeadlineQueue {
  readonly #waiting: Waiting[] = [];
  #running = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deadlineMs: number,
    private readonly expired: (waitedMs: number) => Error,
    private readonly concurrency = 1,
  ) {}

  /** Tasks waiting to start (those running are not counted). */
  get waiting(): number {
    return this.#waiting.length;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        this.#running++;
        let running: Promise<T>;
        try {
          running = task();
        } catch (error) {
          running = Promise.reject(error);
        }
        running.then(resolve, reject).finally(() => this.#next());
      };
      if (this.#running < this.concurrency) {
        run();
        return;
      }
      const now = Date.now();
      this.#waiting.push({ run, reject, queuedAtMs: now, deadlineMs: now + this.deadlineMs });
      this.#arm();
    });
  }

  #next(): void {
    this.#running--;
    const next = this.#waiting.shift();
    this.#disarm();
    if (next === undefined) return;
    this.#arm();
    next.run();
  }

  /** A timer for the head of the queue, if there is one and none is set. */
  #arm(): void {
    const head = this.#waiting[0];
    if (head === undefined || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, head.deadlineMs - Date.now()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = Date.now();
    while (this.#waiting.length > 0 && (this.#waiting[0] as Waiting).deadlineMs <= now) {
      const late = this.#waiting.shift() as Waiting;
      late.reject(this.expired(now - late.queuedAtMs));
    }
    this.#arm();
  }
}
