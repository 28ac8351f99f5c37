import type { StoreHealth } from '../store/index.js';

/**
 * The store's health as `/readyz` reports it, answered within a deadline:
 * a check still running then means the database does not answer (a frozen
 * or unreachable server leaves a ping waiting for its own timeouts, tens of
 * seconds). One check runs at a time; calls meanwhile wait on it, so a flood
 * of probes against a stuck database holds one pooled connection, not one
 * each. `changed` hears each change of the answer, to say why in the log
 * once rather than on every probe.
 */
export class ReadinessCheck {
  #running: Promise<StoreHealth> | undefined;
  #last: string | undefined;

  constructor(
    private readonly check: () => Promise<StoreHealth>,
    private readonly deadlineMs: number,
    private readonly changed: (health: StoreHealth) => void = () => undefined,
  ) {}

  async health(): Promise<StoreHealth> {
    this.#running ??= this.check().finally(() => {
      this.#running = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<StoreHealth>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            database: 'unreachable',
            message: `The database did not answer within ${this.deadlineMs / 1000} s; retry later.`,
          }),
        this.deadlineMs,
      );
    });
    try {
      const health = await Promise.race([this.#running, late]);
      this.#report(health);
      return health;
    } finally {
      clearTimeout(timer);
    }
  }

  #report(health: StoreHealth): void {
    const key = health.ok ? 'ok' : `${health.database}: ${health.message}`;
    if (key === this.#last) return;
    // The first answer is news only when it is bad.
    if (this.#last !== undefined || !health.ok) this.changed(health);
    this.#last = key;
  }
}
