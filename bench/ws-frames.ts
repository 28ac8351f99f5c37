// WebSocket framing for the bench's raw-TCP clients (client.ts, attacker.ts):
// they write frames by hand so that the load costs as little CPU as possible
// on a machine the server shares.

/** Any 16 bytes, base64: the server only echoes a digest of it. */
export const WS_KEY = 'Y29kZWNhc3QtYmVuY2gtMQ==';

/** A masked client frame (RFC 6455 §5.3); a zero masking key leaves the payload as it is. */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const long = payload.length > 125;
  const head = long ? 8 : 6;
  const frame = Buffer.alloc(head + payload.length);
  frame[0] = 0x80 | opcode;
  if (long) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payload.length, 2);
  } else {
    frame[1] = 0x80 | payload.length;
  }
  payload.copy(frame, head);
  return frame;
}

/** The engine.io pong (packet `3`) in a text frame. */
export const PONG_ENGINE_IO = clientFrame(0x1, Buffer.from('3'));

/** The request line and headers of a WebSocket upgrade, blank line included. */
export function upgradeRequest(host: string, port: number, path: string, extraHeaders = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`
  );
}

/**
 * Hands every complete frame in `buf` from `offset` on to `onFrame` (opcode
 * and payload) and answers where the incomplete rest begins. `onFrame`
 * answering false stops the walk (the socket is gone).
 */
export function readFrames(buf: Buffer, offset: number, onFrame: (opcode: number, payload: Buffer) => boolean | undefined): number {
  while (buf.length - offset >= 2) {
    const b0 = buf[offset] as number;
    const b1 = buf[offset + 1] as number;
    let length = b1 & 0x7f;
    let head = 2;
    if (length === 126) {
      if (buf.length - offset < 4) break;
      length = buf.readUInt16BE(offset + 2);
      head = 4;
    } else if (length === 127) {
      if (buf.length - offset < 10) break;
      length = Number(buf.readBigUInt64BE(offset + 2));
      head = 10;
    }
    if (b1 & 0x80) head += 4; // servers never mask (RFC 6455 §5.1); tolerated anyway
    if (buf.length - offset < head + length) break;
    const payload = buf.subarray(offset + head, offset + head + length);
    offset += head + length;
    if (onFrame(b0 & 0x0f, payload) === false) return buf.length;
  }
  return offset;
}

/** The number after `key` in `text` (e.g. `"lastId":`), or null. */
export function numberAfter(text: string, key: string, from = 0): number | null {
  const i = text.indexOf(key, from);
  if (i === -1) return null;
  let j = i + key.length;
  let n = 0;
  let digits = 0;
  for (; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
    digits++;
  }
  return digits === 0 ? null : n;
}
