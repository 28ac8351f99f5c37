// A TCP proxy for fault tests: it forwards every connection to the server
// and, while cutting, destroys random ones at random moments — sometimes in
// the middle of a frame the server is sending — the way a flaky network or a
// restarting load balancer does. Clients connect to it; the test talks to the
// server directly for everything else.
import { createServer, connect, type Server, type Socket } from 'node:net';

/** A small seeded generator (mulberry32), so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Cut at the next bytes from the server, after writing only part of them. */
  cutMidFrame: boolean;
  cut: boolean;
}

export interface CutCounts {
  /** Connections the proxy accepted. */
  readonly accepted: number;
  /** Cut at once, whatever was in flight. */
  readonly cuts: number;
  /** Cut after forwarding only the first part of a chunk from the server. */
  readonly midFrame: number;
}

export class CuttingProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  readonly #random: () => number;
  #timer: NodeJS.Timeout | undefined;
  #accepted = 0;
  #cuts = 0;
  #midFrame = 0;

  private constructor(server: Server, random: () => number) {
    this.#server = server;
    this.#random = random;
  }

  /** Listens on an ephemeral port of 127.0.0.1 in front of `target`. */
  static async start(target: { host: string; port: number }, random: () => number): Promise<CuttingProxy> {
    const server = createServer();
    const proxy = new CuttingProxy(server, random);
    server.on('connection', (client) => proxy.#accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  get counts(): CutCounts {
    return { accepted: this.#accepted, cuts: this.#cuts, midFrame: this.#midFrame };
  }

  #accept(client: Socket, target: { host: string; port: number }): void {
    this.#accepted++;
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, upstream, cutMidFrame: false, cut: false };
    this.#pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      if (!pair.cut) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.cut) return;
      if (pair.cutMidFrame && chunk.length > 1) {
        this.#midFrame++;
        const part = chunk.subarray(0, 1 + Math.floor(this.#random() * (chunk.length - 1)));
        // The part reaches the client before its socket goes: destroying at
        // once would discard it with the rest.
        this.#destroy(pair, part);
        return;
      }
      client.write(chunk);
    });
    // An orderly end is passed on (what was forwarded still arrives); a
    // failure of either side cuts both, as a real hop would.
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on('end', () => other.end());
      socket.on('close', () => {
        other.end();
        if (client.destroyed && upstream.destroyed) this.#pairs.delete(pair);
      });
      socket.on('error', () => this.#destroy(pair));
    }
  }

  #destroy(pair: Pair, lastPart?: Buffer): void {
    if (pair.cut) return;
    pair.cut = true;
    this.#pairs.delete(pair);
    pair.upstream.destroy();
    if (lastPart && !pair.client.destroyed) pair.client.write(lastPart, () => pair.client.destroy());
    else pair.client.destroy();
  }

  /**
   * Cuts a random open connection about `perSecond` times a second (the
   * gaps are exponential, so cuts bunch up at times): a third of the cuts
   * wait for the server's next bytes and forward only part of them.
   */
  startCutting(perSecond: number): void {
    const next = () => {
      const gapMs = -Math.log(1 - this.#random()) * (1000 / perSecond);
      this.#timer = setTimeout(() => {
        this.#cutOne();
        next();
      }, gapMs);
    };
    this.stopCutting();
    next();
  }

  stopCutting(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const pair of this.#pairs) pair.cutMidFrame = false;
  }

  #cutOne(): void {
    const open = [...this.#pairs].filter((p) => !p.cutMidFrame);
    const pair = open[Math.floor(this.#random() * open.length)];
    if (!pair) return;
    if (this.#random() < 1 / 3) {
      pair.cutMidFrame = true;
    } else {
      this.#cuts++;
      this.#destroy(pair);
    }
  }

  /** Stops cutting, ends every connection and stops listening. */
  async close(): Promise<void> {
    this.stopCutting();
    for (const pair of [...this.#pairs]) this.#destroy(pair);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
