import { CLOSE_GRACE_MS, type SocketIoClient } from './socketio-connection.js';

/**
 * How long after a refusal a client may still ask for another namespace.
 * socket.io-client over long-polling sends each namespace's CONNECT in a
 * request of its own, the next only once the previous is answered: a
 * second namespace can arrive a round trip after the first was refused.
 */
export const REFUSAL_GRACE_MS = 1000;

/**
 * Closes a client's engine.io connection once it holds no namespace and
 * is not being admitted to one. socket.io itself keeps such a connection
 * open until its connect timeout:
 *
 * - a client refused on every namespace it asked for (a bad token, a cap)
 *   was left connected, and python-socketio's `connect()` waited on it
 *   instead of failing (issue 13); socket.io-client closes its own side,
 *   other clients need the server to. It is closed `REFUSAL_GRACE_MS`
 *   after its last refusal, unless it asked for another namespace by then;
 * - a session that joined, then left, would be held for as long as it
 *   answers pings while counting against no cap; it is closed at once.
 *
 * A client refused on one namespace while it holds, or is still being
 * admitted to, another keeps its connection. (A CONNECT to a namespace we
 * do not serve is refused by socket.io before any of this runs; such a
 * session is closed at the auth timeout, as pending sessions are.)
 */
export class NamespaceAttempts {
  /** Namespace admissions under way, by client; weak, so a client that goes takes its count along. */
  readonly #underWay = new WeakMap<SocketIoClient, number>();
  /**
   * The one grace timer of each refused client, restarted by each refusal:
   * a timer per refusal would close the client a grace after its first
   * refusal, cutting off a namespace it asks for a round trip after its last.
   */
  readonly #graces = new WeakMap<SocketIoClient, NodeJS.Timeout>();

  /** The namespace middleware started deciding a CONNECT of this client. */
  began(client: SocketIoClient): void {
    this.#underWay.set(client, (this.#underWay.get(client) ?? 0) + 1);
  }

  /** The middleware has decided; a refusal closes the client if nothing else holds it. */
  decided(client: SocketIoClient, refused: boolean): void {
    const left = (this.#underWay.get(client) ?? 1) - 1;
    if (left > 0) this.#underWay.set(client, left);
    else this.#underWay.delete(client);
    if (refused) this.#closeAfterGrace(client);
  }

  /**
   * Closes the client's engine.io connection if it holds no namespace and
   * none is being decided — once the packets written to it by then are sent.
   */
  closeIfUnused(client: SocketIoClient): void {
    // socket.io writes the DISCONNECT of a namespace left on the next tick;
    // setImmediate comes after.
    setImmediate(() => this.#closeIfUnusedNow(client));
  }

  #closeAfterGrace(client: SocketIoClient): void {
    clearTimeout(this.#graces.get(client));
    const timer = setTimeout(() => {
      this.#graces.delete(client);
      this.#closeIfUnusedNow(client);
    }, REFUSAL_GRACE_MS);
    this.#graces.set(client, timer.unref());
  }

  #closeIfUnusedNow(client: SocketIoClient): void {
    if (client.sockets.size > 0 || this.#underWay.has(client)) return;
    const conn = client.conn;
    if (conn.writeBuffer.length === 0) closeNow(conn);
    // A long-polling client gets them with its next poll; one that never
    // polls again is closed at the auth timeout (PendingSessions).
    else conn.once('drain', () => closeNow(conn));
  }
}

/**
 * Closes at once what has been sent. Not engine.io's orderly close: over
 * long-polling it waits for a poll that a refused client does not send
 * (socket.io-client closes its own side on the refusal), holding a 30 s
 * timer. ws would wait as long for the answer to its close frame from a
 * peer that gives none: as after every other close, it gets a little, then
 * is cut.
 */
function closeNow(conn: SocketIoClient['conn']): void {
  conn.close(true);
  const ws = conn.transport.socket;
  if (ws?.terminate) setTimeout(() => ws.terminate?.(), CLOSE_GRACE_MS).unref();
}
