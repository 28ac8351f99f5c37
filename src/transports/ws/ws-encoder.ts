import type { Encoder, HubEvent } from '../../hub/index.js';
import { frameBytes } from '../websocket-frame.js';

/** A whole WebSocket frame, header and payload, ready for the socket. */
export interface WsFrame {
  readonly bytes: Buffer;
  /** Heartbeats also carry a protocol-level ping, which the peer must answer. */
  readonly heartbeat: boolean;
}

/** A protocol ping with an empty payload, the same bytes for every connection. */
export const PING_FRAME: Buffer = frameBytes(Buffer.alloc(0), 0x9);

/**
 * Encodes hub events as JSON envelopes `{"type", "data"}` in complete
 * WebSocket frames, once per event for every WebSocket connection.
 */
export class WsEncoder implements Encoder<WsFrame> {
  readonly transport = 'ws' as const;

  encode(event: HubEvent): WsFrame {
    return { bytes: frameBytes(Buffer.from(JSON.stringify(event))), heartbeat: event.type === 'ping' };
  }
}
