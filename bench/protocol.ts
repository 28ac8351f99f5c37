// Messages between the harness (parent) and its load-client processes.

export type Transport = 'sse' | 'ws' | 'socketio';

/** One subscriber a client process opens. */
export interface SubscriberSpec {
  readonly transport: Transport;
  /** Request path, query included (`/api/v1/stream?since=…`). */
  readonly path: string;
  /** Bearer token (SSE, WebSocket: Authorization header; Socket.IO: auth.token); none for the bare servers. */
  readonly token?: string;
  /** Socket.IO namespace. */
  readonly namespace?: '/' | '/events';
  /** The port of the node this subscriber connects to (a cluster run); the pool's port otherwise. */
  readonly port?: number;
  /** Which node of a cluster run (0: the one publishes go to), for figures by node. */
  readonly node?: number;
}

export type ParentMessage =
  | {
      readonly type: 'open';
      readonly host: string;
      readonly port: number;
      readonly concurrency: number;
      readonly subscribers: readonly SubscriberSpec[];
      /** markers (default): receive times of `BENCH-<k>`; ids (soak): each subscriber checks its ids follow one another. */
      readonly track?: 'markers' | 'ids';
    }
  /** Soak: cut this fraction of the connected subscribers, spread over `spreadMs`; each comes back `pauseMs` later with its last id. */
  | { readonly type: 'churn'; readonly fraction: number; readonly spreadMs: number; readonly pauseMs: number }
  /** Soak: counts so far; with `upTo`, also how many ids up to it each subscriber has not seen yet. */
  | { readonly type: 'tally'; readonly upTo?: number }
  /** Hand over the receive times of these codes as they are, complete or not. */
  | { readonly type: 'flush'; readonly codes: readonly number[] | 'all' }
  | { readonly type: 'status' }
  | { readonly type: 'close' };

export type ClientMessage =
  | { readonly type: 'progress'; readonly connected: number; readonly failed: number }
  | {
      readonly type: 'opened';
      readonly connected: number;
      readonly failed: number;
      readonly ms: number;
      readonly errors: Record<string, number>;
    }
  /** Receive times of one code per local subscriber (0: not received); `complete` when every open one has it. */
  | { readonly type: 'code'; readonly code: number; readonly times: Float64Array; readonly complete: boolean }
  | { readonly type: 'flushed'; readonly open: number; readonly closes: Record<string, number> }
  | { readonly type: 'status'; readonly open: number; readonly pending: number; readonly closes: Record<string, number> }
  | ({ readonly type: 'tally' } & SoakTally);

/** Soak counts of one client process, or summed over all of them. */
export interface SoakTally {
  readonly subscribers: number;
  /** Connected now (hello seen). */
  readonly open: number;
  /** Cut and not back yet. */
  readonly reopening: number;
  /** Times a subscriber came back (hello seen again). */
  readonly reconnects: number;
  /** Cuts made on purpose (the churn). */
  readonly churned: number;
  /** Ids skipped: a code id more than one past the last one seen. */
  readonly lost: number;
  /** Ids seen again. */
  readonly duplicated: number;
  readonly resets: number;
  /** Ids up to `upTo` not seen yet, summed over subscribers, and how many subscribers lack some. */
  readonly behind: number;
  readonly behindSubscribers: number;
  /** Why the server closed connected subscribers (each came back). */
  readonly closes: Record<string, number>;
  /** Why a subscriber coming back was refused or failed (it tried again). */
  readonly reopenErrors: Record<string, number>;
}
