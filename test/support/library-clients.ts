// Subscriptions of the client library (`codecast/client`, its Node entry)
// with everything they report recorded, for tests that assert what an
// application built on it would have seen.
import type {
  CodecastClientError,
  Code,
  ConnectionState,
  Hello,
  Reset,
  StateDetail,
  SubscribeOptions,
  Subscription,
  TransportName,
} from '../../src/client/node.js';
import { subscribe } from '../../src/client/node.js';
import { waitFor } from './sse.js';

export const LIBRARY_TRANSPORTS: readonly TransportName[] = ['sse', 'websocket'];

export interface RecordedSubscription {
  readonly subscription: Subscription;
  /** Every code handed to onCode, in order. */
  readonly codes: Code[];
  /** The ids of the codes onCode said were replayed. */
  readonly replayed: number[];
  readonly revokes: number[];
  readonly resets: { reset: Reset; seenId: number | undefined }[];
  readonly hellos: Hello[];
  readonly states: { state: ConnectionState; detail: StateDetail }[];
  readonly errors: CodecastClientError[];
  codeIds(): number[];
  stateNames(): ConnectionState[];
  waitForCodes(count: number, timeoutMs?: number): Promise<void>;
  /** Waits until the state has been `state` `count` times (counting from the start). */
  waitForState(state: ConnectionState, count?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Subscribes with the library (`url` and `token` given; everything else as in `options`) and records it all. */
export function recordSubscription(options: SubscribeOptions): RecordedSubscription {
  const codes: Code[] = [];
  const replayed: number[] = [];
  const revokes: number[] = [];
  const resets: { reset: Reset; seenId: number | undefined }[] = [];
  const hellos: Hello[] = [];
  const states: { state: ConnectionState; detail: StateDetail }[] = [];
  const errors: CodecastClientError[] = [];
  const subscription = subscribe({
    ...options,
    onCode(code, info) {
      codes.push(code);
      if (info.replayed) replayed.push(code.id);
      options.onCode?.(code, info);
    },
    onRevoke(id) {
      revokes.push(id);
      options.onRevoke?.(id);
    },
    onReset(reset, tools) {
      resets.push({ reset, seenId: tools.seenId });
      options.onReset?.(reset, tools);
    },
    onHello(hello, info) {
      hellos.push(hello);
      options.onHello?.(hello, info);
    },
    onState(state, detail) {
      states.push({ state, detail });
      options.onState?.(state, detail);
    },
    onError(error) {
      errors.push(error);
      options.onError?.(error);
    },
  });
  const transport = subscription.transport;
  const stateNames = () => states.map((s) => s.state);
  return {
    subscription,
    codes,
    replayed,
    revokes,
    resets,
    hellos,
    states,
    errors,
    codeIds: () => codes.map((c) => c.id),
    stateNames,
    waitForCodes: (count, timeoutMs = 10_000) =>
      waitFor(() => codes.length >= count, `${count} code(s) over the library's ${transport} (have ${codes.length})`, timeoutMs),
    waitForState: (state, count = 1, timeoutMs = 10_000) =>
      waitFor(
        () => stateNames().filter((s) => s === state).length >= count,
        `state ${state} (${count}) over the library's ${transport}; states so far: ${stateNames().join(' → ')}`,
        timeoutMs,
      ),
    close: () => subscription.close(),
  };
}
