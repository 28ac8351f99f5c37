import { CodecastError } from '../domain/index.js';

export interface PendingLimits {
  /** Unauthenticated connections the process holds at once, from everyone. */
  readonly maxPending: number;
  /** The same, from one client address. */
  readonly maxPendingPerAddress: number;
}

/** One place in the budget; released once, whatever path lets go of it first. */
export interface PendingTicket {
  readonly address: string;
  released: boolean;
}

export interface PendingStats {
  readonly pending: number;
  readonly addresses: number;
  readonly refused: { readonly perAddress: number; readonly overall: number };
}

/** How long a refused client should wait: places free as others authenticate or time out. */
const RETRY_AFTER_SECONDS = 2;

/**
 * The client a budget place is charged to. `::ffff:10.0.0.1` and `10.0.0.1`
 * are one client: Node reports IPv4 peers of a dual-stack listener in the
 * mapped form. An IPv6 client is its /64: one subscriber line gets a whole
 * /64, so counting addresses would give it 2^64 budgets.
 */
export function clientAddress(address: string | undefined): string {
  if (address === undefined) return '';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  return address.includes(':') ? ipv6Prefix64(address) : address;
}

function ipv6Prefix64(address: string): string {
  const bare = address.split('%')[0] ?? address;
  const [head = '', tail] = bare.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? front : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * The budget of connections that have not authenticated: TCP sockets that
 * have carried no authenticated request yet, and Socket.IO sessions that
 * have joined no namespace. Each costs memory and a file descriptor before
 * anyone knows who is behind it, so each counts, per address and overall,
 * until it authenticates or goes. Entries live only while an address has a
 * place taken, so the map is bounded by `maxPending`.
 */
export class PendingBudget {
  readonly #limits: PendingLimits;
  readonly #byAddress = new Map<string, number>();
  #pending = 0;
  #refusedPerAddress = 0;
  #refusedOverall = 0;

  constructor(limits: PendingLimits) {
    this.#limits = limits;
  }

  /** Takes a place for a connection from `address`, or answers the error to refuse it with. */
  enter(address: string): PendingTicket | CodecastError {
    const mine = this.#byAddress.get(address) ?? 0;
    if (mine >= this.#limits.maxPendingPerAddress) {
      this.#refusedPerAddress++;
      return new CodecastError('too_many_pending_connections', undefined, undefined, RETRY_AFTER_SECONDS);
    }
    if (this.#pending >= this.#limits.maxPending) {
      this.#refusedOverall++;
      return new CodecastError('server_busy', undefined, undefined, RETRY_AFTER_SECONDS);
    }
    this.#byAddress.set(address, mine + 1);
    this.#pending++;
    return { address, released: false };
  }

  release(ticket: PendingTicket): void {
    if (ticket.released) return;
    ticket.released = true;
    this.#pending--;
    const left = (this.#byAddress.get(ticket.address) ?? 1) - 1;
    if (left > 0) this.#byAddress.set(ticket.address, left);
    else this.#byAddress.delete(ticket.address);
  }

  stats(): PendingStats {
    return {
      pending: this.#pending,
      addresses: this.#byAddress.size,
      refused: { perAddress: this.#refusedPerAddress, overall: this.#refusedOverall },
    };
  }
}

/** The raw HTTP answer for a refusal made before any request was read (no framework to send it yet). */
export function rawRefusal(error: CodecastError): string {
  const body = JSON.stringify({ error: error.code, message: error.message });
  const reason = error.status === 429 ? 'Too Many Requests' : 'Service Unavailable';
  return (
    `HTTP/1.1 ${error.status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Retry-After: ${error.retryAfterSeconds ?? RETRY_AFTER_SECONDS}\r\nConnection: close\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
