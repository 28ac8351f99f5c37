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
}

export type ParentMessage =
  | { readonly type: 'open'; readonly host: string; readonly port: number; readonly concurrency: number; readonly subscribers: readonly SubscriberSpec[] }
  /** Hand over the receive times of these codes as they are, complete or not. */
  | { readonly type: 'flush'; readonly codes: readonly number[] | 'all' }
  | { readonly type: 'status' }
  | { readonly type: 'close' };

export type ClientMessage =
  | { readonly type: 'progress'; readonly connected: number; readonly failed: number }
  | { readonly type: 'opened'; readonly connected: number; readonly failed: number; readonly ms: number; readonly errors: Record<string, number> }
  /** Receive times of one code per local subscriber (0: not received); `complete` when every open one has it. */
  | { readonly type: 'code'; readonly code: number; readonly times: Float64Array; readonly complete: boolean }
  | { readonly type: 'flushed'; readonly open: number; readonly closes: Record<string, number> }
  | { readonly type: 'status'; readonly open: number; readonly pending: number; readonly closes: Record<string, number> };
