// Polls GET /api/v1/stats every 2 s and hands each answer, with the time it
// arrived, to whoever listens: the charts, the audience line, the server card.

export const POLL_MS = 2000;

export class StatsPoller {
  #api;
  #listeners = [];
  #onError;
  #timer;
  #running = false;
  #inFlight = false;
  /** @type {any} the newest answer */
  latest;

  /**
   * @param {{get: (path: string) => Promise<any>}} api
   * @param {(error: unknown | null) => void} onError told of a failure, and with null once it works again
   */
  constructor(api, onError) {
    this.#api = api;
    this.#onError = onError;
  }

  /** @param {(stats: any, atMs: number) => void} listener */
  listen(listener) {
    this.#listeners.push(listener);
    if (this.latest) listener(this.latest, Date.now());
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    void this.#poll();
  }

  stop() {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  /** Polls now, without waiting for the next tick. */
  refresh() {
    if (!this.#running || this.#inFlight) return;
    clearTimeout(this.#timer);
    void this.#poll();
  }

  async #poll() {
    const started = Date.now();
    this.#inFlight = true;
    try {
      const stats = await this.#api.get('/stats');
      if (!this.#running) return;
      this.latest = stats;
      this.#onError(null);
      const at = Date.now();
      for (const listener of this.#listeners) {
        try {
          listener(stats, at);
        } catch (error) {
          // One broken view must not stop the others, nor read as the server failing.
          console.error(error);
        }
      }
    } catch (error) {
      if (!this.#running) return;
      this.#onError(error);
    } finally {
      this.#inFlight = false;
    }
    // Polls are spaced from the start of the last one, never overlapping.
    this.#timer = setTimeout(() => void this.#poll(), Math.max(0, POLL_MS - (Date.now() - started)));
  }
}
