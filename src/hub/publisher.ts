import { createHash } from 'node:crypto';
import type { Broker, BrokerMessage } from '../broker/index.js';
import {
  CodecastError,
  DatabaseUnavailableError,
  dedupKey,
  draftCode,
  type Code,
  type CodeDraft,
  type CodeInput,
  type Principal,
  publicCode,
} from '../domain/index.js';
import { DeadlineQueue } from './deadline-queue.js';
import type { CodeLedger } from './ports.js';
import type { CodeRecord } from '../store/index.js';
import type { DeliveryCounts, DeliveryLedger } from './delivery-ledger.js';
import type { Hub } from './hub.js';
import type { RuntimeSettings } from './runtime-settings.js';

export interface PublisherOptions {
  readonly node: string;
  readonly dedupMs: number;
  readonly idempotencyMs: number;
  /**
   * How long a publish or revoke may wait behind the one running before it
   * is refused as `database_unavailable`, never to run: the one ahead is
   * stuck on a database that does not answer, and a client told 503 at once
   * can retry, where one left waiting learns nothing.
   */
  readonly queueDeadlineMs: number;
  /**
   * Publishes and revokes with the database at once (1 unless set). Above
   * one, two may commit in one order and reach the broker in the other;
   * every node's receiver then fills the gap from the database, in order.
   */
  readonly concurrency?: number;
}

export interface PublishResult {
  readonly code: Code;
  /** Connections the code was handed to, by transport. */
  readonly audience: { readonly connections: number; readonly byTransport: DeliveryCounts };
  /** True when an Idempotency-Key matched an earlier publish: nothing was broadcast. */
  readonly replayed: boolean;
}

export interface PublishLog {
  /** Once the code has been handed to every connection, `fanOutMs` later. */
  published(result: PublishResult, fanOutMs: number): void;
  /** Bookkeeping after a broadcast or revoke failed; the code itself is out and stored. */
  bookkeepingFailed(codeId: number, error: unknown): void;
  /** A stored publish or revoke could not be handed to the broker; it is recoverable from the database. */
  brokerFailed(message: BrokerMessage, error: unknown): void;
}

/**
 * What a publish means, for the Idempotency-Key check: taken from the draft,
 * after trimming, NFC and defaults, so `{"code":" A "}` and
 * `{"code":"A","value":<the default>}` are the same request.
 */
function fingerprint(draft: CodeDraft): string {
  const canonical = [draft.code, draft.value, draft.type, draft.message, draft.ttlSeconds, draft.source];
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** A stored outcome, and its hand-over to the broker (which never rejects). */
interface Told<T> {
  readonly value: T;
  readonly told: Promise<void>;
}

const DONE: Promise<void> = Promise.resolve();

/** The answer to a publish whose Idempotency-Key was used before: the first publish, or a refusal when the request differs. */
function answerEarlier(earlier: { requestHash: string; code: CodeRecord }, requestHash: string | undefined): PublishResult {
  if (earlier.requestHash !== requestHash) throw new CodecastError('idempotency_key_reused', undefined, { id: earlier.code.id });
  const { delivered } = earlier.code;
  const connections = delivered.sse + delivered.ws + delivered.socketio;
  return { code: publicCode(earlier.code), audience: { connections, byTransport: { ...delivered } }, replayed: true };
}

/**
 * The publish pipeline: validate, dedup, persist, hand to the broker, which
 * brings the code back to this node's subscribers as to every other node's.
 * Publishes of one node start in the order they came, a few at a time at
 * most (`concurrency`); the broker's receiver delivers in id order whatever
 * order they reach it in. One that cannot start within `queueDeadlineMs`, or
 * while the broker cannot carry it, is refused and never runs, so a 503
 * always means "not published".
 */
export class Publisher {
  readonly #queue: DeadlineQueue;
  /**
   * A store or revoke failed as unavailable: its commit may have happened
   * with only the answer lost, so the database may hold a code or revoke
   * this node never sent. Cleared by a catch-up.
   */
  #uncertain = false;

  constructor(
    private readonly options: PublisherOptions,
    private readonly codes: CodeLedger,
    private readonly hub: Hub,
    private readonly deliveries: DeliveryLedger,
    private readonly broker: Broker,
    private readonly settings: RuntimeSettings,
    private readonly log: PublishLog,
    /**
     * Sends what the database holds and this node has not sent (the node's
     * catch-up from the database, `BrokerReceiver.catchUp`): codes newer than
     * the hub's last, in id order, and revokes of held codes.
     */
    private readonly fromDatabase: () => Promise<void> = async () => undefined,
    /**
     * The other nodes' connections by transport (a cluster's leases), added
     * to this node's in a publish's answer: its audience is the
     * deployment's. The code's row stores this node's; every other node adds
     * its own as it fans the code out (`DeliveryLedger.fannedOut`).
     */
    private readonly elsewhere?: () => DeliveryCounts,
  ) {
    this.#queue = new DeadlineQueue(
      options.queueDeadlineMs,
      (waitedMs) => new DatabaseUnavailableError('busy', `waited ${waitedMs} ms behind a publish or revoke the database has not finished`),
      options.concurrency,
    );
  }

  /**
   * Answers once the code is stored and handed to the broker. The hand-over
   * is written in the queue, in id order, but awaited outside it: the next
   * publish's commit need not wait for this one's round trip to Redis.
   */
  async publish(input: CodeInput, actor: Principal, idempotencyKey?: string): Promise<PublishResult> {
    const { value, told } = await this.#queue.run(async () => {
      await this.#settle();
      return this.#publish(input, actor, idempotencyKey);
    });
    await told;
    return value;
  }

  async revoke(id: number, actor: Principal): Promise<Code> {
    const { value, told } = await this.#queue.run(async () => {
      await this.#settle();
      return this.#revoke(id, actor);
    });
    await told;
    return value;
  }

  /**
   * Catches up from the database between two publishes: for when writes
   * work again after they failed, so a code whose commit answer was lost
   * reaches subscribers without waiting for the next publish.
   */
  catchUp(): Promise<void> {
    return this.#queue.run(async () => {
      await this.fromDatabase();
      this.#uncertain = false;
    });
  }

  /**
   * Before a publish or revoke after one whose commit may have happened:
   * sends what it stored first, or ids would reach subscribers out of order
   * (a lost code is never sent once a later one has been). A catch-up that
   * fails fails this publish too: the database is still away.
   */
  async #settle(): Promise<void> {
    if (!this.#uncertain) return;
    await this.fromDatabase();
    this.#uncertain = false;
  }

  /** Marks the outcome uncertain when a commit failed as unavailable, and rethrows. */
  #committing<T>(commit: Promise<T>): Promise<T> {
    return commit.catch((error: unknown) => {
      if (error instanceof DatabaseUnavailableError) this.#uncertain = true;
      throw error;
    });
  }

  async #publish(input: CodeInput, actor: Principal, idempotencyKey?: string): Promise<Told<PublishResult>> {
    const settings = this.settings.values;
    // Validated first: a request that is not valid was never published, so
    // it cannot match a key either.
    const draft = draftCode(input, settings.defaultValue);
    const requestHash = idempotencyKey === undefined ? undefined : fingerprint(draft);
    if (idempotencyKey !== undefined) {
      // A retried request is answered here, without the store's publish lock.
      const earlier = await this.codes.idempotent(actor.user.id, idempotencyKey);
      if (earlier) return { value: answerEarlier(earlier, requestHash), told: DONE };
    }
    this.#brokerReady();
    const key = dedupKey(draft.code, settings.dedupCaseInsensitive);
    const now = Date.now();
    const idempotency =
      idempotencyKey === undefined || requestHash === undefined ? undefined : { key: idempotencyKey, requestHash, userId: actor.user.id };
    // The audience goes into the code's row in the same commit; the
    // connections that attach before the code comes back from the broker
    // are added to it then (`DeliveryLedger.fannedOut`).
    const counted = this.hub.audience();
    // The dedup window is checked inside the publish's transaction, under the
    // store's publish lock: one window for every process sharing the database.
    const inserted = await this.#committing(
      this.codes.insert(draft, key, actor.user.id, now, {
        audience: counted,
        idempotency,
        dedupSinceMs: this.options.dedupMs > 0 ? now - this.options.dedupMs : undefined,
        audit: { actor: actor.user.username, action: 'code.publish', details: { code: draft.code } },
      }),
    );
    if ('earlier' in inserted) return { value: answerEarlier(inserted.earlier, requestHash), told: DONE };
    if ('duplicateOf' in inserted) {
      const earlierId = inserted.duplicateOf;
      throw new CodecastError('duplicate_code', `The code was published moments ago as id ${earlierId}.`, { id: earlierId });
    }
    const code = inserted;
    const others = this.elsewhere?.();
    const reached =
      others === undefined
        ? counted
        : { sse: counted.sse + others.sse, ws: counted.ws + others.ws, socketio: counted.socketio + others.socketio };
    const result: PublishResult = {
      code,
      audience: { connections: reached.sse + reached.ws + reached.socketio, byTransport: reached },
      replayed: false,
    };
    this.deliveries.published(code.id, counted, (fanOutMs) => this.log.published(result, fanOutMs));
    return { value: result, told: this.#tell({ type: 'code', node: this.options.node, code }) };
  }

  /** Refuses a publish or revoke before it is stored while the broker could not carry it. */
  #brokerReady(): void {
    const health = this.broker.health();
    if (!health.ok) {
      throw new CodecastError(
        'broker_unavailable',
        'The cluster cannot share a code now (Redis is not reachable); nothing was published. Retry shortly.',
        undefined,
        2,
      );
    }
  }

  /**
   * Hands a stored publish or revoke to the broker; never rejects. The
   * broker writes its command when called, so calls made one after another
   * in the queue reach it in id order whenever their replies come. When the broker fails
   * now, it is already stored: this node sends it from the database at once,
   * and the others read it from there when they catch up.
   */
  async #tell(message: BrokerMessage): Promise<void> {
    try {
      await this.broker.publish(message);
    } catch (error) {
      this.log.brokerFailed(message, error);
      this.fromDatabase().catch((catchUpError: unknown) => this.log.brokerFailed(message, catchUpError));
    }
  }

  async #revoke(id: number, actor: Principal): Promise<Told<Code>> {
    const record = await this.codes.byId(id);
    if (!record) throw new CodecastError('code_not_found');
    if (record.revokedAt !== null) throw new CodecastError('code_revoked', undefined, { id });
    this.#brokerReady();
    const now = new Date();
    // Stored (with its audit entry) before anyone is told: a revoke that
    // fails answers 503 and changes nothing.
    await this.#committing(
      this.codes.revoke(id, now, {
        actor: actor.user.username,
        action: 'code.revoke',
        target: String(id),
        details: { code: record.code },
      }),
    );
    return { value: publicCode(record), told: this.#tell({ type: 'revoke', node: this.options.node, id }) };
  }
}
