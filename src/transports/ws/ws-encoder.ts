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

  /** Whole frames back to back are a valid byte stream: one write carries them all. */
  combine(frames: readonly WsFrame[]): WsFrame {
    return { bytes: Buffer.concat(frames.map((f) => f.bytes)), heartbeat: frames.some((f) => f.heartbeat) };
  }

  encode(event: HubEvent): WsFrame {
    return { bytes: frameBytes(Buffer.from(JSON.stringify(event))), heartbeat: event.type === 'ping' };
  }
}
