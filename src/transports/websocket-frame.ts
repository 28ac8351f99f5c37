import * as ws from 'ws';

/** The slice of ws's Sender we call; @types/ws does not declare it. */
interface FrameBuilder {
  frame(data: Buffer, options: { fin: boolean; mask: boolean; opcode: number; readOnly: boolean; rsv1: boolean }): Buffer[];
}
// From ws's ES module exports, not `WebSocket.Sender`: that static is set
// only by ws's CommonJS entry, so it was undefined whenever this module
// loaded before anything had required ws (engine.io does, in the server).
const Sender = (ws as unknown as { Sender: FrameBuilder }).Sender;

/**
 * A final, unmasked WebSocket frame (servers never mask, RFC 6455 §5.1), as
 * ws's Sender builds it: header and payload, ready to write to any socket.
 */
function frameParts(payload: Buffer, opcode: 0x1 | 0x9 = 0x1): Buffer[] {
  return Sender.frame(payload, { fin: true, mask: false, opcode, readOnly: false, rsv1: false });
}

/** The same frame as one Buffer, so each connection gets a single write. */
export function frameBytes(payload: Buffer, opcode: 0x1 | 0x9 = 0x1): Buffer {
  const parts = frameParts(payload, opcode);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
