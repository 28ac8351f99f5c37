import type { CloseReason, TransportName } from './connection.js';

/**
 * What the hub reports as it works, for metrics and logs. Called on the
 * publish path once per transport per broadcast, never once per connection
 * per code, so an observer may be slow-ish without slowing the fan-out.
 */
export interface HubObserver {
  opened(transport: TransportName): void;
  closed(connection: { readonly id: string; readonly transport: TransportName; readonly userId: number }, reason: CloseReason, openMs: number): void;
  /** `count` connections of `transport` were handed a code, live or by replay. */
  delivered(transport: TransportName, count: number, kind: 'live' | 'replay'): void;
  /** One broadcast of a code took `ms` of synchronous fan-out. */
  fannedOut(ms: number): void;
}

export const SILENT_OBSERVER: HubObserver = {
  opened: () => undefined,
  closed: () => undefined,
  delivered: () => undefined,
  fannedOut: () => undefined,
};
