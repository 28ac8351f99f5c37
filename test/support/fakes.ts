// Fakes of codecast's own ports, for unit tests of the core: connections and
// encoders as the hub sees them, the code ledger, the broker. Never fakes of
// a library we can run.
import type { Broker, BrokerHealth, BrokerMessage, BrokerNode } from '../../src/broker/index.js';
import { DatabaseUnavailableError, type Code, type CodeDraft, type Principal, type TransportName } from '../../src/domain/index.js';
import type { CloseReason, CodeLedger, Connection, Encoder, HubEvent } from '../../src/hub/index.js';
import type { AuditInput, CodeRecord } from '../../src/store/index.js';

export function principal(userId: number, tokenId = userId): Principal & { readonly tokenId: number } {
  return { user: { id: userId, username: `user-${userId}`, role: 'user', disabled: false, createdAt: '' }, tokenId };
}

export function code(id: number, text = `C${id}`): Code {
  return { id, code: text, value: null, type: null, message: null, publishedAt: new Date().toISOString(), expiresAt: null, source: 'api' };
}

export function outage(): DatabaseUnavailableError {
  return new DatabaseUnavailableError('busy', 'a fake outage');
}

/** Frames are the hub's events themselves; combining keeps them in order. */
export class EventEncoder implements Encoder<HubEvent[]> {
  /** How many events were encoded: the hub promises once per transport, not per connection. */
  encoded = 0;
  constructor(readonly transport: TransportName) {}
  encode(event: HubEvent): HubEvent[] {
    this.encoded++;
    return [event];
  }
  combine(frames: readonly HubEvent[][]): HubEvent[] {
    return frames.flat();
  }
}

/** A connection that keeps every event written to it, and lets a test set its backlog. */
export class FakeConnection implements Connection<HubEvent[]> {
  readonly openedAt = Date.now();
  readonly events: HubEvent[] = [];
  backlog = 0;
  bufferedBytes = 0;
  alive = Date.now();
  closedWith: CloseReason | undefined;
  /** Writes, each one `send` call. */
  writes = 0;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    readonly transport: TransportName = 'sse',
  ) {}

  send(frame: HubEvent[]): void {
    this.writes++;
    this.events.push(...frame);
  }
  startLive(): void {
    this.backlog = 0;
  }
  lastSignOfLife(): number {
    return this.alive;
  }
  close(reason: CloseReason): void {
    this.closedWith ??= reason;
  }

  /** `code 5`, `revoke 2`, … for every code and revoke, in the order written. */
  get trail(): string[] {
    return this.events.flatMap((event) => {
      if (event.type === 'code') return [`code ${event.data.id}`];
      if (event.type === 'revoke') return [`revoke ${event.data.id}`];
      return [];
    });
  }
}

interface StoredCode {
  record: CodeRecord;
  dedupKey: string;
  publishedAtMs: number;
}

/**
 * The code ledger in memory, as the store would keep it; `failNext` makes
 * the next call of a method reject (an outage by default), and `calls`
 * records which were made, in order.
 */
export class FakeCodeLedger implements CodeLedger {
  readonly codes: StoredCode[] = [];
  readonly keys = new Map<string, { requestHash: string; id: number }>();
  readonly calls: string[] = [];
  readonly #failures = new Map<string, unknown>();
  /** Resolves each insert only when the test says so, when set. */
  insertGate: Promise<void> | undefined;

  failNext(method: keyof CodeLedger | 'list', error: unknown = outage()): void {
    this.#failures.set(method, error);
  }

  #enter(method: string): void {
    this.calls.push(method);
    const failure = this.#failures.get(method);
    if (failure !== undefined) {
      this.#failures.delete(method);
      throw failure;
    }
  }

  async idempotent(userId: number, key: string): Promise<{ requestHash: string; code: CodeRecord } | undefined> {
    this.#enter('idempotent');
    const found = this.keys.get(`${userId}:${key}`);
    if (!found) return undefined;
    return { requestHash: found.requestHash, code: this.#byId(found.id)!.record };
  }

  #duplicateOf(dedupKey: string, sinceMs: number): number | undefined {
    return this.codes.find((c) => c.dedupKey === dedupKey && c.publishedAtMs >= sinceMs && c.record.revokedAt === null)?.record.id;
  }

  async insert(
    draft: CodeDraft,
    dedupKey: string,
    _publishedBy: number | null,
    nowMs: number,
    extras: {
      readonly audience?: Readonly<Record<TransportName, number>>;
      readonly idempotency?: { key: string; requestHash: string; userId: number } | undefined;
      readonly audit?: Omit<AuditInput, 'target'>;
      readonly dedupSinceMs?: number | undefined;
    } = {},
  ): Promise<Code | { readonly duplicateOf: number } | { readonly earlier: { requestHash: string; code: CodeRecord } }> {
    this.#enter('insert');
    await this.insertGate;
    // As the store does inside the publish's transaction.
    if (extras.idempotency) {
      const found = this.keys.get(`${extras.idempotency.userId}:${extras.idempotency.key}`);
      if (found) return { earlier: { requestHash: found.requestHash, code: this.#byId(found.id)!.record } };
    }
    if (extras.dedupSinceMs !== undefined) {
      const earlier = this.#duplicateOf(dedupKey, extras.dedupSinceMs);
      if (earlier !== undefined) return { duplicateOf: earlier };
    }
    const id = this.codes.length + 1;
    const stored: Code = {
      id,
      code: draft.code,
      value: draft.value,
      type: draft.type,
      message: draft.message,
      publishedAt: new Date(nowMs).toISOString(),
      expiresAt: draft.ttlSeconds === null ? null : new Date(nowMs + draft.ttlSeconds * 1000).toISOString(),
      source: draft.source,
    };
    const delivered = { sse: 0, ws: 0, socketio: 0, ...extras.audience };
    this.codes.push({ record: { ...stored, revokedAt: null, delivered, replayed: 0 }, dedupKey, publishedAtMs: nowMs });
    if (extras.idempotency) {
      const { key, requestHash, userId } = extras.idempotency;
      this.keys.set(`${userId}:${key}`, { requestHash, id });
    }
    return stored;
  }

  async byId(id: number): Promise<CodeRecord | undefined> {
    this.#enter('byId');
    return this.#byId(id)?.record;
  }

  async revoke(id: number, now: Date): Promise<boolean> {
    this.#enter('revoke');
    const stored = this.#byId(id);
    if (!stored || stored.record.revokedAt !== null) return false;
    stored.record = { ...stored.record, revokedAt: now.toISOString() };
    return true;
  }

  /** As the store lists codes after `since`, oldest first. */
  async list(options: { since: number; limit: number; includeInactive: boolean; nowMs: number }): Promise<CodeRecord[]> {
    this.#enter('list');
    return this.codes
      .map((c) => c.record)
      .filter((r) => r.id > options.since)
      .filter((r) => options.includeInactive || (r.revokedAt === null && (r.expiresAt === null || Date.parse(r.expiresAt) > options.nowMs)))
      .slice(0, options.limit);
  }

  #byId(id: number): StoredCode | undefined {
    return this.codes.find((c) => c.record.id === id);
  }
}

/**
 * A broker driver that records what is published and delivers it back to
 * its node at once, as the memory driver does; a test may make it
 * unhealthy, fail its publishes, or deliver by hand.
 */
export class FakeBroker implements Broker {
  readonly driver = 'memory' as const;
  readonly published: BrokerMessage[] = [];
  node: BrokerNode | undefined;
  failPublish: unknown;
  /** Set: `health()` says the broker cannot carry messages, with this detail. */
  down: string | undefined;

  health(): BrokerHealth {
    return this.down === undefined ? { ok: true } : { ok: false, detail: this.down };
  }
  async start(node: BrokerNode): Promise<void> {
    this.node = node;
  }
  async publish(message: BrokerMessage): Promise<void> {
    if (this.failPublish !== undefined) throw this.failPublish;
    this.published.push(message);
    this.node?.deliver(message);
  }
  async stop(): Promise<void> {
    this.node = undefined;
  }
}
