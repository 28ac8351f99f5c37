// A TCP proxy that can stop carrying bytes without closing anything, the
// way a frozen peer or a network partition looks from either side: commands
// go unanswered until it thaws, then everything held flows on.
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Bytes held while frozen, per direction of one connection. */
interface Lane {
  readonly to: Socket;
  readonly held: Buffer[];
}

export class FreezingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #lanes = new Set<Lane>();
  #frozen = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: { host: string; port: number }): Promise<FreezingProxy> {
    const server = createServer();
    const proxy = new FreezingProxy(server);
    server.on('connection', (client) => proxy.#accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `redis://` to the proxy's address. */
  url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The proxy's port on 127.0.0.1, for a URL of another scheme. */
  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** Nothing passes either way from now until `thaw`: it is held, not dropped. */
  freeze(): void {
    this.#frozen = true;
  }

  thaw(): void {
    this.#frozen = false;
    for (const lane of this.#lanes) {
      for (const chunk of lane.held.splice(0)) lane.to.write(chunk);
    }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, target: { host: string; port: number }): void {
    const upstream = connect(target.port, target.host);
    const forward = (from: Socket, to: Socket) => {
      const lane: Lane = { to, held: [] };
      this.#lanes.add(lane);
      from.on('data', (chunk: Buffer) => {
        if (this.#frozen) lane.held.push(chunk);
        else to.write(chunk);
      });
      from.on('close', () => {
        this.#lanes.delete(lane);
        to.destroy();
      });
    };
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    forward(client, upstream);
    forward(upstream, client);
  }
}
