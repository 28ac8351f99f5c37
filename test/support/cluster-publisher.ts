// Publishes to the nodes of a cluster, one at a time or as a background
// stream, and records each answer: the ids that got a 201, the 503s (each
// must carry Retry-After), and anything else as unexpected — a publish whose
// outcome is unknown (an error, a timeout) would make "exactly the 201 ids"
// unprovable, so tests keep publishes away from a node they are about to hurt.
import type { Cluster } from './cluster.js';
import { uniqueCode } from './sse-stream-helpers.js';

const PUBLISH_TIMEOUT_MS = 10_000;

export interface Accepted {
  readonly id: number;
  readonly node: number;
  readonly at: number;
}

export interface Refused {
  readonly node: number;
  readonly status: number;
  readonly error: string | undefined;
  readonly retryAfter: string | null;
  readonly at: number;
}

export interface StreamOptions {
  /** Which nodes to publish to now (asked before each publish): the rotation's choices. */
  readonly nodes: () => readonly number[];
  /** Publishes in flight at once, per node in the rotation (1). */
  readonly concurrency?: number;
  /** Pause after each publish of one worker (50 ms). */
  readonly intervalMs?: number;
  /** Stop after this many publishes in all (unbounded). */
  readonly count?: number;
}

export class ClusterPublisher {
  readonly accepted: Accepted[] = [];
  readonly unavailable: Refused[] = [];
  /** Answers other than 201 and 503-with-Retry-After, and failed requests: each one a sentence. */
  readonly unexpected: string[] = [];
  #rotation = 0;
  #running: Promise<void> | undefined;
  #stopping = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly prefix = 'CLUSTER',
  ) {}

  get acceptedIds(): number[] {
    return this.accepted.map((a) => a.id).sort((a, b) => a - b);
  }

  get maxAcceptedId(): number {
    return this.accepted.reduce((max, a) => Math.max(max, a.id), 0);
  }

  /** One publish of a fresh code to `node`; answers the id on 201, else undefined (recorded). */
  async publish(node: number): Promise<number | undefined> {
    const code = uniqueCode(this.prefix);
    let answer: Awaited<ReturnType<Cluster['api']>>;
    try {
      answer = await this.cluster.api(node, 'POST', '/api/v1/codes', { body: { code }, timeoutMs: PUBLISH_TIMEOUT_MS });
    } catch (error) {
      this.unexpected.push(`node${node} ${code}: request failed: ${(error as Error).message}`);
      return undefined;
    }
    const at = Date.now();
    if (answer.status === 201) {
      this.accepted.push({ id: answer.body.code.id, node, at });
      return answer.body.code.id as number;
    }
    if (answer.status === 503) {
      this.unavailable.push({ node, status: 503, error: answer.body?.error, retryAfter: answer.retryAfter, at });
      if (!answer.retryAfter) this.unexpected.push(`node${node} ${code}: 503 without Retry-After ${JSON.stringify(answer.body)}`);
      return undefined;
    }
    this.unexpected.push(`node${node} ${code}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return undefined;
  }

  /** Publishes to the next node of `nodes`, in turn. */
  publishRotating(nodes: readonly number[]): Promise<number | undefined> {
    const node = nodes[this.#rotation++ % nodes.length];
    if (node === undefined) throw new Error('no node to publish to');
    return this.publish(node);
  }

  /**
   * Publishes in the background until `stop()` (or `count` publishes):
   * `concurrency` workers per node of the rotation, each publishing to the
   * nodes in turn, pausing `intervalMs` between its publishes.
   */
  startStream(options: StreamOptions): void {
    if (this.#running) throw new Error('a stream is already running');
    this.#stopping = false;
    const concurrency = options.concurrency ?? 1;
    const interval = options.intervalMs ?? 50;
    let left = options.count ?? Number.POSITIVE_INFINITY;
    const workers = Math.max(1, options.nodes().length) * concurrency;
    const worker = async (): Promise<void> => {
      while (!this.#stopping && left > 0) {
        left--;
        const nodes = options.nodes();
        if (nodes.length === 0) await new Promise((resolve) => setTimeout(resolve, interval));
        else await this.publishRotating(nodes);
        if (interval > 0) await new Promise((resolve) => setTimeout(resolve, interval));
      }
    };
    this.#running = Promise.all(Array.from({ length: workers }, worker)).then(() => undefined);
  }

  /** Resolves once the stream has published all its `count`. */
  async finished(): Promise<void> {
    await this.#running;
    this.#running = undefined;
  }

  /** Stops the stream and waits for the publishes in flight. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.finished();
  }

  /** Waits until `more` further publishes got a 201 (bounded), e.g. after a fault, to see publishing resumed. */
  async waitForAccepted(more: number, timeoutMs: number, what: string): Promise<void> {
    const target = this.accepted.length + more;
    const deadline = Date.now() + timeoutMs;
    while (this.accepted.length < target) {
      if (Date.now() > deadline) {
        const last = this.unavailable.at(-1);
        throw new Error(
          `${what}: ${this.accepted.length}/${target} publishes accepted after ${timeoutMs} ms; last refusal ${JSON.stringify(last)}; unexpected: ${this.unexpected.slice(-5).join(' | ')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
