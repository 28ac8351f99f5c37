import { randomUUID } from 'node:crypto';
import { type Broker, type BrokerHealth, type BrokerMessage, type BrokerNode, BrokerUnavailableError } from './broker.js';
import { parseBrokerMessage } from './broker-message.js';
import { openRedisLink, type RedisLink } from './redis-link.js';

export interface RedisBrokerOptions {
  readonly url: string;
  /** Prefix of every key this deployment uses. */
  readonly prefix: string;
  /** This node's id. */
  readonly node: string;
  /** Entries the stream keeps, about (`XADD MAXLEN ~`): how long a node may be away and still read what it missed from Redis. */
  readonly streamLength?: number;
  /** How long one command may take before Redis counts as unreachable. */
  readonly commandTimeoutMs?: number;
  /** How long connecting at start may take. */
  readonly connectTimeoutMs?: number;
  /** How often the connection and the epoch are checked. */
  readonly checkMs?: number;
}

export interface RedisBrokerEvents {
  /** Redis stopped answering this node; publishes are refused until it does. */
  down(detail: string): void;
  /** Redis answers again. */
  up(): void;
  /** Messages may have been lost (a reconnect; Redis lost its data): the node catches up. */
  resync(reason: 'reconnected' | 'epoch_changed'): void;
  /** Something failed that the broker retries by itself. */
  failed(error: unknown, what: string): void;
}

const READ_BLOCK_MS = 2_000;
const READ_COUNT = 512;
/** Messages kept to append once Redis is back (revokes and access changes stored while it was away). */
const OUTBOX_LIMIT = 10_000;

type XReadReply = [string, [string, string[]][]][] | null;

/**
 * The cluster's broker: one Redis stream, `{prefix}:events`, carries every
 * message in one order to every node (the contract is in broker.ts).
 *
 * - A node appends after its database commit (`XADD`, capped with
 *   `MAXLEN ~`) and reads the stream from the last entry it handled with a
 *   blocking `XREAD` on a connection of its own. Reading on from the last
 *   entry after a reconnect, rather than subscribing again from now, is
 *   what keeps a node that was cut off from losing what was published
 *   meanwhile (socket.io's Redis Streams adapter does the same; its pub/sub
 *   adapter loses it).
 * - An epoch (`{prefix}:epoch`, set once with `SET NX`) tells a node that
 *   Redis lost its data — restarted empty, or flushed — as Centrifugo's
 *   Redis engine does: the node then catches up from the database and reads
 *   the new stream from its start.
 * - Every reconnect catches up from the database too, for what fell out of
 *   the capped stream, and for entries a node appended while this one was
 *   away but that Redis lost.
 * - A message that could not be appended after its commit is kept (bounded)
 *   and appended when Redis is back, before anything newer from this node.
 */
export class RedisBroker implements Broker {
  readonly driver = 'redis' as const;
  readonly #options: Required<RedisBrokerOptions>;
  readonly #events: RedisBrokerEvents;
  readonly #streamKey: string;
  readonly #epochKey: string;
  #commands: RedisLink | undefined;
  #reader: RedisLink | undefined;
  #node: BrokerNode | undefined;
  #epoch: string | undefined;
  /** The stream entry handled last; reading goes on after it. */
  #lastEntry = '0-0';
  #healthy = false;
  #detail = 'not started';
  #resync: 'reconnected' | 'epoch_changed' | undefined;
  readonly #outbox: BrokerMessage[] = [];
  #checker: NodeJS.Timeout | undefined;
  #checking = false;
  #reading: Promise<void> | undefined;
  #started = false;
  #stopped = false;

  constructor(options: RedisBrokerOptions, events: RedisBrokerEvents) {
    this.#options = {
      streamLength: 10_000,
      commandTimeoutMs: 2_000,
      connectTimeoutMs: 10_000,
      checkMs: 1_000,
      ...options,
    };
    this.#events = events;
    this.#streamKey = `${options.prefix}:events`;
    this.#epochKey = `${options.prefix}:epoch`;
  }

  health(): BrokerHealth {
    return this.#healthy ? { ok: true } : { ok: false, detail: this.#detail };
  }

  /**
   * Connects, learns the epoch and where the stream ends, and starts
   * reading after that end. The node catches up from the database once
   * then, for what was published between loading its history and now.
   * @throws when Redis cannot be reached within the connect timeout.
   */
  async start(node: BrokerNode): Promise<void> {
    this.#node = node;
    const { url, connectTimeoutMs, node: id } = this.#options;
    this.#commands = await openRedisLink(url, `codecast-${id}`, this.#linkEvents('commands'), connectTimeoutMs);
    try {
      this.#reader = await this.#openReader();
      this.#epoch = await this.#readEpoch();
      this.#lastEntry = await this.#streamEnd();
      this.#healthy = true;
      this.#detail = '';
      await node.catchUp();
    } catch (error) {
      this.#commands.close();
      this.#reader?.close();
      throw error;
    }
    this.#started = true;
    this.#reading = this.#read();
    this.#checker = setInterval(() => this.#check(), this.#options.checkMs);
    this.#checker.unref();
  }

  #linkEvents(role: string) {
    return {
      error: (error: Error) => this.#lost(`${role}: ${error.message}`),
      // Connected again; the first connect is start's own business.
      ready: () => {
        if (this.#started) void this.#check();
      },
    };
  }

  #openReader(): Promise<RedisLink> {
    const { url, connectTimeoutMs, node: id } = this.#options;
    return openRedisLink(url, `codecast-${id}-reader`, this.#linkEvents('reader'), connectTimeoutMs);
  }

  async publish(message: BrokerMessage): Promise<void> {
    if (!this.#healthy || this.#outbox.length > 0) {
      // Stored already (a revoke whose commit outlived Redis, a settings
      // change): kept, to be appended, in order, when Redis is back.
      this.#keep(message);
      throw new BrokerUnavailableError(this.#detail || 'Redis is not reachable');
    }
    try {
      await this.#append(message);
    } catch (error) {
      // Stored already: kept, to be appended when Redis is back.
      this.#keep(message);
      this.#lost(error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#checker);
    this.#commands?.close();
    this.#reader?.close();
    await this.#reading;
  }

  #append(message: BrokerMessage): Promise<string> {
    const { streamLength, commandTimeoutMs } = this.#options;
    return (this.#commands as RedisLink).command<string>(
      ['XADD', this.#streamKey, 'MAXLEN', '~', String(streamLength), '*', 'm', JSON.stringify(message)],
      commandTimeoutMs,
    );
  }

  #keep(message: BrokerMessage): void {
    // Codes are not kept: every node reads them from the database when it catches up.
    if (message.type === 'code') return;
    if (this.#outbox.length < OUTBOX_LIMIT) this.#outbox.push(message);
  }

  #lost(detail: string): void {
    if (this.#stopped) return;
    if (this.#healthy) {
      this.#healthy = false;
      this.#events.down(detail);
    }
    this.#detail = `Redis is not reachable (${detail})`;
    this.#resync ??= 'reconnected';
  }

  /** The epoch this deployment's Redis holds, set by the first node to ask. */
  async #readEpoch(): Promise<string> {
    const timeout = this.#options.commandTimeoutMs;
    const commands = this.#commands as RedisLink;
    await commands.command(['SET', this.#epochKey, randomUUID(), 'NX'], timeout);
    const epoch = await commands.command<string | null>(['GET', this.#epochKey], timeout);
    if (epoch === null) throw new Error('the epoch key vanished as it was set');
    return epoch;
  }

  /** The id of the stream's last entry, or 0-0 when it is empty. */
  async #streamEnd(): Promise<string> {
    const last = await (this.#commands as RedisLink).command<[string, string[]][]>(
      ['XREVRANGE', this.#streamKey, '+', '-', 'COUNT', '1'],
      this.#options.commandTimeoutMs,
    );
    return last[0]?.[0] ?? '0-0';
  }

  /**
   * Every second, and on every reconnect: whether Redis answers, and still
   * holds this deployment's epoch. Back after an outage, the node sends what
   * it kept and is healthy again; the reader catches up before reading on.
   */
  async #check(): Promise<void> {
    if (this.#checking || this.#stopped) return;
    this.#checking = true;
    try {
      const commands = this.#commands as RedisLink;
      if (!commands.isReady) return;
      const epoch = await this.#readEpoch();
      if (epoch !== this.#epoch) {
        this.#epoch = epoch;
        this.#resync = 'epoch_changed';
        // The stream this node read is gone; the new one is read from its start.
        this.#lastEntry = '0-0';
      }
      while (this.#outbox.length > 0) {
        await this.#append(this.#outbox[0] as BrokerMessage);
        this.#outbox.shift();
      }
      if (!this.#healthy) {
        this.#healthy = true;
        this.#detail = '';
        this.#events.up();
      }
    } catch (error) {
      this.#lost(error instanceof Error ? error.message : String(error));
    } finally {
      this.#checking = false;
    }
  }

  async #read(): Promise<void> {
    let reader = this.#reader as RedisLink;
    let readerClosed = false;
    const node = this.#node as BrokerNode;
    const { commandTimeoutMs } = this.#options;
    while (!this.#stopped) {
      const resync = this.#resync;
      if (resync !== undefined && this.#healthy) {
        this.#resync = undefined;
        this.#events.resync(resync);
        // Held messages wait for it inside the node; reading goes on meanwhile.
        node.catchUp().catch((error: unknown) => this.#events.failed(error, 'catching up from the database'));
      }
      let reply: XReadReply;
      try {
        if (readerClosed || !reader.isReady) throw new Error('the reader is reconnecting');
        reply = await reader.command<XReadReply>(
          ['XREAD', 'COUNT', String(READ_COUNT), 'BLOCK', String(READ_BLOCK_MS), 'STREAMS', this.#streamKey, this.#lastEntry],
          READ_BLOCK_MS + commandTimeoutMs,
        );
      } catch (error) {
        if (this.#stopped) return;
        this.#lost(error instanceof Error ? error.message : String(error));
        await new Promise((resolve) => setTimeout(resolve, 200));
        if ((reader.isReady || readerClosed) && !this.#stopped) {
          // The read failed on a connection that is still open (the server
          // went silent past the read's deadline): a new read sent on it
          // would wait behind the stale one, and each of those blocks for
          // seconds once the server wakes. The reader starts over on a new
          // connection.
          if (!readerClosed) reader.close();
          readerClosed = true;
          try {
            reader = await this.#openReader();
            readerClosed = false;
            this.#reader = reader;
          } catch {
            // Redis is still away: the next turn tries again.
          }
          if (this.#stopped) reader.close();
        }
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [entryId, fields] of entries) {
          this.#lastEntry = entryId;
          const message = parseBrokerMessage(fields);
          if (message) node.deliver(message);
          else this.#events.failed(new Error(`stream entry ${entryId} is not a message this version reads`), 'reading the stream');
        }
      }
    }
  }
}
