import { createClient } from '@redis/client';

/**
 * The slice of a Redis client the cluster calls: raw commands, with a
 * timeout each. Declared here so the broker does not depend on the client
 * library's types (and a test could hand it another client).
 */
export interface RedisLink {
  /** Connected and not reconnecting: a command sent now is written now. */
  readonly isReady: boolean;
  /** One command; rejects at once while not ready, and after `timeoutMs` without an answer. */
  command<T>(args: readonly string[], timeoutMs: number): Promise<T>;
  /** Drops the connection and every command waiting on it. */
  close(): void;
}

export interface RedisLinkEvents {
  /** The connection failed or dropped; the client reconnects by itself. */
  error(error: Error): void;
  /** Connected (again), ready for commands. */
  ready(): void;
}

/** Waits after the n-th failed reconnect: 100 ms doubling to 2 s, with jitter so nodes do not reconnect in step. */
function reconnectDelay(retries: number): number {
  const base = Math.min(100 * 2 ** retries, 2_000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * The reply, or a rejection once `timeoutMs` has passed. node-redis's own
 * `timeout` covers only the wait to be written: a command already sent to a
 * server that froze, or across a link that went silent, would wait for ever
 * (node-redis removes its timer when it writes the command). The late reply,
 * if one comes, is read and dropped by the client in order.
 */
function withDeadline<T>(reply: Promise<T>, args: readonly string[], timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer ${args[0]} within ${timeoutMs} ms`)), timeoutMs);
  });
  // Lost the race: its rejection has nobody else to hear it.
  reply.catch(() => undefined);
  return Promise.race([reply, late]).finally(() => clearTimeout(timer));
}

/**
 * A connection to Redis through node-redis (`@redis/client`, the client
 * Redis maintains): it reconnects by itself with backoff, and refuses
 * commands while it is down instead of queueing them, so a caller learns at
 * once that Redis is away.
 */
export async function openRedisLink(url: string, name: string, events: RedisLinkEvents, connectTimeoutMs: number): Promise<RedisLink> {
  const client = createClient({
    url,
    name,
    disableOfflineQueue: true,
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: reconnectDelay },
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
    events.error(error);
  });
  client.on('ready', () => events.ready());
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = lastError ? `: ${lastError.message || lastError.name}` : '';
      reject(new Error(`no connection within ${connectTimeoutMs / 1000} s${why}`));
    }, connectTimeoutMs);
  });
  try {
    await Promise.race([client.connect(), timeout]);
  } catch (error) {
    client.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    get isReady() {
      return client.isReady;
    },
    // node-redis's own `timeout` is left out: it covers less than the
    // deadline does (see withDeadline) and costs an AbortSignal timer a command.
    command: <T>(args: readonly string[], timeoutMs: number) => withDeadline(client.sendCommand<T>(args), args, timeoutMs),
    close: () => {
      try {
        client.destroy();
      } catch {
        // Closed already.
      }
    },
  };
}
