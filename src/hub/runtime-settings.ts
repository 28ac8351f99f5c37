import { CodecastError } from '../domain/index.js';
import type { SettingsRecord } from './ports.js';

/** Settings an admin may change while codecast runs. */
export interface RuntimeSettingsValues {
  /** Whether "ABC" and "abc" count as the same code for the dedup window. */
  readonly dedupCaseInsensitive: boolean;
  /** Value given to codes published without one; null leaves them without. */
  readonly defaultValue: number | null;
}

export const RUNTIME_DEFAULTS: RuntimeSettingsValues = Object.freeze({
  dedupCaseInsensitive: false,
  defaultValue: null,
});

function validate(patch: Record<string, unknown>): Partial<RuntimeSettingsValues> {
  const out: { dedupCaseInsensitive?: boolean; defaultValue?: number | null } = {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'dedupCaseInsensitive') {
      if (typeof value !== 'boolean') throw new CodecastError('invalid_request', 'dedupCaseInsensitive must be true or false.');
      out.dedupCaseInsensitive = value;
    } else if (key === 'defaultValue') {
      if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) {
        throw new CodecastError('invalid_request', 'defaultValue must be a number or null.');
      }
      out.defaultValue = value;
    } else {
      throw new CodecastError('invalid_request', `Unknown setting "${key}".`, { field: key });
    }
  }
  return out;
}

/**
 * The runtime settings, read once from the store and kept in memory.
 * Updates and reloads run one at a time: each update computes its `after`
 * from the settings the previous one left, so two admins writing different
 * keys at once both keep their change, and the audit's before/after form a
 * chain (issue 9). Between nodes the database is the truth: a write stores
 * only the keys it changes, and the other nodes reload when told of it.
 */
export class RuntimeSettings {
  #values: RuntimeSettingsValues = RUNTIME_DEFAULTS;
  /** The tail of the queue of updates and reloads; never rejects. */
  #queue: Promise<unknown> = Promise.resolve();

  /** `updated` hears of every change made here, once stored (other nodes are told through it). */
  constructor(
    private readonly stored: SettingsRecord,
    private readonly updated: (values: RuntimeSettingsValues) => void = () => undefined,
  ) {}

  /** Reads the settings from the store, after any update under way (a reload must not undo it in memory). */
  load(): Promise<void> {
    return this.#inTurn(async () => {
      const stored = await this.stored.all();
      const known = Object.fromEntries(Object.entries(stored).filter(([key]) => key in RUNTIME_DEFAULTS));
      this.#values = Object.freeze({ ...RUNTIME_DEFAULTS, ...validate(known) });
    });
  }

  get values(): RuntimeSettingsValues {
    return this.#values;
  }

  /**
   * Validates and stores a partial change with its audit entry, in one
   * commit; answers the settings after it. Nothing changes in memory unless
   * the change is stored.
   */
  async update(patch: Record<string, unknown>, actor: string | null): Promise<RuntimeSettingsValues> {
    const change = validate(patch);
    return this.#inTurn(async () => {
      const before = this.#values;
      const after = Object.freeze({ ...before, ...change });
      await this.stored.put(change, {
        entry: { actor, action: 'settings.update', target: null, details: { before, after } },
        now: new Date(),
      });
      this.#values = after;
      this.updated(after);
      return after;
    });
  }

  /** Runs `work` once everything queued before it has settled; a failure is its caller's alone. */
  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.#queue.then(work);
    this.#queue = turn.catch(() => undefined);
    return turn;
  }
}
