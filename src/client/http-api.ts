import { CodecastClientError, errorOfResponse } from './client-error.js';
import { isCode, type AckResult, type Code } from './wire.js';

/** Where the API is and how to call it. */
export interface ApiTarget {
  /** The server's base URL, e.g. `https://codecast.example` (a path prefix is kept). */
  readonly url: URL;
  readonly token: string;
  readonly fetch: typeof fetch;
  /** Aborts the requests in flight: a subscription's, when it is closed. */
  readonly signal?: AbortSignal;
}

/** What to read of the history. */
export interface HistoryOptions {
  /** Codes after this id (oldest first). @default 0 */
  readonly since?: number;
  /** Only codes with a smaller id: after a reset, `reset.oldestId`, where the replay starts. @default no bound */
  readonly before?: number | null;
  /** At most this many codes, the oldest of those after `since`. @default every one */
  readonly max?: number;
}

/** Reads codes after an id: `history({ since: 40 })`, `history({ since: seenId, before: reset.oldestId })`. */
export type History = (options?: HistoryOptions) => Promise<Code[]>;

/**
 * A request that no cache may answer. Node's RequestInit type lacks `cache`,
 * which its fetch accepts and browsers need (a stale stream or history).
 */
export type NoStoreInit = RequestInit & { readonly cache?: 'no-store' };

/** The largest page `GET /api/v1/codes` answers. */
const PAGE = 1000;

/** `base` + `path` (+ `query`), keeping a path prefix the base may have (`https://host/codecast` + `/api/v1/…`). */
export function apiUrl(base: URL, path: string, query: Readonly<Record<string, string>> = {}): URL {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = new URLSearchParams(query).toString();
  url.hash = '';
  return url;
}

/** What a request of a closed subscription rejects with, rather than a network error nobody should show. */
function closedError(): CodecastClientError {
  return new CodecastClientError('closed', 'The subscription was closed.');
}

async function call(target: ApiTarget, method: string, path: string, query?: Readonly<Record<string, string>>): Promise<unknown> {
  const { signal } = target;
  if (signal?.aborted) throw closedError();
  let response: Response;
  try {
    const init: NoStoreInit = {
      method,
      headers: { authorization: `Bearer ${target.token}`, accept: 'application/json' },
      cache: 'no-store',
      ...(signal ? { signal } : {}),
    };
    response = await target.fetch(apiUrl(target.url, path, query), init);
  } catch {
    throw signal?.aborted ? closedError() : new CodecastClientError('network_error', `${target.url.origin} cannot be reached.`);
  }
  let body: unknown;
  try {
    if (!response.ok) throw await errorOfResponse(response);
    body = await response.json();
  } catch (error) {
    // The body was cut by the abort: what failed with it is no news.
    throw signal?.aborted ? closedError() : error;
  }
  if (signal?.aborted) throw closedError();
  return body;
}

/**
 * The codes still live (neither revoked nor expired) after `since`, oldest
 * first, read page by page from `GET /api/v1/codes?since=&limit=`.
 */
export async function readHistory(target: ApiTarget, options: HistoryOptions = {}): Promise<Code[]> {
  const codes: Code[] = [];
  const before = options.before ?? Number.POSITIVE_INFINITY;
  let since = options.since ?? 0;
  let left = options.max ?? Number.POSITIVE_INFINITY;
  while (left > 0 && since + 1 < before) {
    const limit = Math.min(PAGE, left);
    const body = (await call(target, 'GET', '/api/v1/codes', { since: String(since), limit: String(limit) })) as { codes?: unknown };
    const page = Array.isArray(body.codes) ? body.codes.filter(isCode) : [];
    const wanted = page.filter((code) => code.id < before);
    codes.push(...wanted);
    const last = page.at(-1);
    if (page.length < limit || last === undefined || wanted.length < page.length) break;
    since = last.id;
    left -= page.length;
  }
  return codes;
}

/** Acknowledges a code over HTTP: `POST /api/v1/codes/:id/ack`. */
export async function postAck(target: ApiTarget, id: number): Promise<AckResult> {
  return (await call(target, 'POST', `/api/v1/codes/${id}/ack`)) as AckResult;
}
