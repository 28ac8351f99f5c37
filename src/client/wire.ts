/**
 * What the server sends, as docs/PROTOCOL.md describes it. The client keeps
 * its own copy of these shapes rather than importing the server's: it is
 * shipped to browsers on its own, and its types are its public face.
 */

/** A delivered code. `id` strictly increases in delivery order across the deployment. */
export interface Code {
  readonly id: number;
  readonly code: string;
  readonly value: number | null;
  readonly type: string | null;
  readonly message: string | null;
  /** ISO 8601, e.g. `2026-11-27T10:00:00.123Z`. */
  readonly publishedAt: string;
  readonly expiresAt: string | null;
  /** Who published it: `api`, `cli`, … */
  readonly source: string;
}

/** The first event of every connection. */
export interface Hello {
  readonly connectionId: string;
  /** The newest code id the server has; live codes start after it. */
  readonly lastId: number;
  readonly heartbeatSeconds: number;
}

/**
 * Sent before anything else after `hello` when the resume point is further
 * back than the server's history reaches (codes between may be lost), or
 * ahead of every code it has (it restarted on an older database).
 */
export interface Reset {
  /** The oldest code id the server still holds, null when it holds none. */
  readonly oldestId: number | null;
  /** The newest code id the server has. */
  readonly lastId: number;
}

/** Sent before a graceful stop: reconnect after this long. */
export interface Shutdown {
  readonly reconnectAfterMs: number;
}

/** The answer to an acknowledgement over HTTP. */
export interface AckResult {
  readonly id: number;
  /** False when this user had acknowledged the code before. */
  readonly first: boolean;
  readonly latencyMs: number;
}

/** An error body of the API, or a WebSocket `error` frame's data. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
}

/** Whether a parsed JSON value looks like a code object (the server is trusted; this guards against a wrong URL). */
export function isCode(value: unknown): value is Code {
  const code = value as Partial<Code> | null;
  return typeof code === 'object' && code !== null && Number.isSafeInteger(code.id) && typeof code.code === 'string';
}
