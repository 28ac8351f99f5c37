import type { CloseReason, TransportName } from './connection.js';

/**
 * What the hub reports as it works, for metrics and logs. The fan-out calls
 * it once per transport per slice of connections it writes, never once per
 * connection per code, so an observer may be slow-ish without slowing it.
 */
export interface HubObserver {
  /** A connection of `userId` attached. */
  opened(transport: TransportName, userId: number): void;
  closed(
    connection: { readonly id: string; readonly transport: TransportName; readonly userId: number },
    reason: CloseReason,
    openMs: number,
  ): void;
  /** `count` code deliveries were written to connections of `transport`, live or by replay. */
  delivered(transport: TransportName, count: number, kind: 'live' | 'replay'): void;
  /** A code reached every local connection `ms` after it entered the fan-out. */
  fannedOut(ms: number): void;
}

export const SILENT_OBSERVER: HubObserver = {
  opened: () => undefined,
  closed: () => undefined,
  delivered: () => undefined,
  fannedOut: () => undefined,
};
