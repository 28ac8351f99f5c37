import { WebSocket } from 'ws';
import type { Encoder, HubEvent } from '../../hub/index.js';

/** A whole WebSocket frame, header and payload, ready for the socket. */
export interface WsFrame {
  readonly bytes: Buffer;
  /** Heartbeats also carry a protocol-level ping, which the peer must answer. */
  readonly heartbeat: boolean;
}

/** The slice of ws's Sender we call; @types/ws does not declare it. */
interface FrameBuilder {
  frame(data: Buffer, options: { fin: boolean; mask: boolean; opcode: number; readOnly: boolean; rsv1: boolean }): Buffer[];
}
const Sender = (WebSocket as unknown as { Sender: FrameBuilder }).Sender;

/** Frames `data` once as an unmasked, final text frame (servers never mask, RFC 6455 §5.1). */
export function textFrame(payload: string): Buffer {
  const parts = Sender.frame(Buffer.from(payload), {
    fin: true,
    mask: false,
    opcode: 0x1,
    readOnly: false,
    rsv1: false,
  });
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** A protocol ping with an empty payload, the same bytes for every connection. */
export const PING_FRAME: Buffer = (() => {
  const parts = Sender.frame(Buffer.alloc(0), { fin: true, mask: false, opcode: 0x9, readOnly: false, rsv1: false });
  return Buffer.concat(parts);
})();

/**
 * Encodes hub events as JSON envelopes `{"type", "data"}` in complete
 * WebSocket frames, once per event for every WebSocket connection.
 */
export class WsEncoder implements Encoder<WsFrame> {
  readonly transport = 'ws' as const;

  encode(event: HubEvent): WsFrame {
    return { bytes: textFrame(JSON.stringify(event)), heartbeat: event.type === 'ping' };
  }
}
