// A subscriber that follows one transport on one node of a cluster and keeps
// going: on a dropped connection it reconnects with the last id it saw, to
// its node while that runs, else to another running one (or wherever it is
// told to move). It records every code and revoke in arrival order, every
// connection it had, and every breach of the contract it notices at once.
import type { Cluster } from './cluster.js';
import { type Link, type LinkEvent, type LinkKind, openLink } from './cluster-links.js';

/** A connection that sends no hello within this is given up (its node may be frozen). */
const HELLO_TIMEOUT_MS = 5_000;
/** Pause before a reconnect: a client does not hammer a server it just lost. */
const RECONNECT_MS = 100;

export interface TrailEntry {
  readonly type: 'code' | 'revoke';
  readonly id: number;
  /** The node that delivered it. */
  readonly node: number;
  readonly at: number;
}

export interface ConnectionRecord {
  readonly node: number;
  readonly since: number | undefined;
  readonly startedAt: number;
  helloAt?: number;
  endedAt?: number;
  reason?: string;
}

export class ClusterSubscriber {
  /** Codes and revokes, in arrival order. */
  readonly trail: TrailEntry[] = [];
  readonly connections: ConnectionRecord[] = [];
  /** Breaches seen as they happened (repeat, out of order, revoke before code, reset). */
  readonly failures: string[] = [];
  readonly #seen = new Set<number>();
  #link: Link | undefined;
  #helloTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #firstSince: number | undefined;
  #home: number;

  constructor(
    readonly name: string,
    readonly kind: LinkKind,
    private readonly cluster: Cluster,
    home: number,
    private readonly token: string,
  ) {
    this.#home = home;
  }

  /** The node it belongs to now (where it reconnects while that node runs). */
  get home(): number {
    return this.#home;
  }

  get codeIds(): number[] {
    return this.trail.filter((entry) => entry.type === 'code').map((entry) => entry.id);
  }

  get lastId(): number | undefined {
    return this.codeIds.at(-1);
  }

  /** The connection now open (hello received, not ended), if any. */
  get current(): ConnectionRecord | undefined {
    const last = this.connections.at(-1);
    return last?.helloAt !== undefined && last.endedAt === undefined ? last : undefined;
  }

  /**
   * Connects to its node and resolves once hello arrived (or fails after a
   * bound). `since`: resume after that id, as a client that saw it before.
   */
  async start(options: { since?: number; timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.#firstSince = options.since;
    this.#connect();
    const deadline = Date.now() + timeoutMs;
    while (this.current === undefined) {
      if (Date.now() > deadline)
        throw new Error(`${this.name}: no hello within ${timeoutMs} ms; connections: ${this.describeConnections()}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Makes `node` its home and drops the current connection, so it reconnects there. */
  moveTo(node: number): void {
    this.#home = node;
    this.#link?.close();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#helloTimer);
    this.#link?.close();
  }

  /**
   * Where to connect: home while it runs, else another running node — which
   * one depends on the name, so the subscribers of a lost node spread over
   * the others rather than all landing on the next one.
   */
  #target(): number | undefined {
    const count = this.cluster.nodes.length;
    if (this.cluster.node(this.#home).state === 'running') return this.#home;
    let spread = 0;
    for (const char of this.name) spread = (spread * 31 + char.charCodeAt(0)) % 1_000_003;
    for (let step = 0; step < count - 1; step++) {
      const index = (this.#home + 1 + ((spread + step) % (count - 1))) % count;
      if (this.cluster.node(index).state === 'running') return index;
    }
    return undefined;
  }

  #connect(): void {
    if (this.#stopped) return;
    const node = this.#target();
    if (node === undefined) {
      this.#scheduleReconnect();
      return;
    }
    // Before any code: live only; after one, resume after it, as a real client does.
    const since = this.lastId ?? (this.connections.length === 0 ? this.#firstSince : (this.#firstSince ?? 0));
    const record: ConnectionRecord = { node, since, startedAt: Date.now() };
    this.connections.push(record);
    const link = openLink(this.kind, this.cluster.node(node).url, this.token, since, {
      event: (type, data) => this.#event(record, type, data),
      end: (reason) => {
        if (record.endedAt !== undefined) return;
        record.endedAt = Date.now();
        record.reason = record.reason === undefined ? reason : `${record.reason}; ${reason}`;
        if (this.#link === link) {
          this.#link = undefined;
          clearTimeout(this.#helloTimer);
          this.#scheduleReconnect();
        }
      },
    });
    this.#link = link;
    this.#helloTimer = setTimeout(() => {
      if (this.#link === link && record.helloAt === undefined) {
        record.reason = `no hello within ${HELLO_TIMEOUT_MS} ms`;
        link.close();
      }
    }, HELLO_TIMEOUT_MS);
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => this.#connect(), RECONNECT_MS);
  }

  #event(record: ConnectionRecord, type: LinkEvent, data: any): void {
    const at = Date.now();
    switch (type) {
      case 'hello':
        record.helloAt = at;
        clearTimeout(this.#helloTimer);
        return;
      case 'code': {
        const id = data.id as number;
        const last = this.lastId;
        if (this.#seen.has(id)) this.failures.push(`code ${id} received twice (from node${record.node})`);
        else if (last !== undefined && id < last) this.failures.push(`code ${id} after ${last} (from node${record.node})`);
        this.#seen.add(id);
        this.trail.push({ type: 'code', id, node: record.node, at });
        return;
      }
      case 'revoke': {
        const id = data.id as number;
        if (!this.#seen.has(id)) this.failures.push(`revoke ${id} before its code (from node${record.node})`);
        this.trail.push({ type: 'revoke', id, node: record.node, at });
        return;
      }
      case 'reset':
        this.failures.push(`reset ${JSON.stringify(data)} from node${record.node} (since ${record.since})`);
        return;
      case 'shutdown':
        return;
    }
  }

  /** The connections in order, failed attempts in a row to one node folded into one entry, for failure messages. */
  describeConnections(): string {
    const parts: string[] = [];
    let failed: { node: number; count: number; reason: string | undefined } | undefined;
    const flush = () => {
      if (failed) parts.push(`node${failed.node} ${failed.count} failed attempt(s), last: ${failed.reason}`);
      failed = undefined;
    };
    for (const c of this.connections) {
      if (c.helloAt === undefined && c.endedAt !== undefined) {
        if (failed && failed.node !== c.node) flush();
        failed = { node: c.node, count: (failed?.count ?? 0) + 1, reason: c.reason };
        continue;
      }
      flush();
      const hello = c.helloAt === undefined ? 'no hello yet' : `hello +${c.helloAt - c.startedAt} ms`;
      const end = c.endedAt === undefined ? 'open' : `ended after ${Math.round((c.endedAt - c.startedAt) / 100) / 10} s: ${c.reason}`;
      parts.push(`node${c.node} since=${c.since ?? '-'} ${hello}, ${end}`);
    }
    flush();
    return parts.join('; ');
  }
}

/**
 * Subscribers on every node over every kind, each with a user of its own
 * (so no per-user cap is in play), started and connected.
 */
export async function subscribeEverywhere(
  cluster: Cluster,
  label: string,
  kinds: readonly LinkKind[],
  nodes: readonly number[] = cluster.nodes.map((_, index) => index),
): Promise<ClusterSubscriber[]> {
  const subscribers: ClusterSubscriber[] = [];
  for (const node of nodes) {
    for (const kind of kinds) {
      const name = `${label}-${kind}-node${node}`;
      subscribers.push(new ClusterSubscriber(name, kind, cluster, node, await cluster.createUser(name)));
    }
  }
  await Promise.all(subscribers.map((subscriber) => subscriber.start()));
  return subscribers;
}
