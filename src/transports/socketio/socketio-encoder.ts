import { Encoder as PacketEncoder, PacketType } from 'socket.io-parser';
import type { Encoder, HubEvent } from '../../hub/index.js';
import { frameBytes } from '../websocket-frame.js';

export const NAMESPACES = ['/', '/events'] as const;
export type Namespace = (typeof NAMESPACES)[number];

/** One Socket.IO packet as engine.io writes it, with its pre-built WebSocket frame. */
export interface EncodedPacket {
  readonly packets: readonly (string | Buffer)[];
  readonly options: { readonly preEncoded: true; readonly wsPreEncodedFrame?: Buffer[] };
}

/**
 * The same event encoded for each namespace (the namespace is part of the
 * packet). A combined frame also keeps its `parts`, for clients whose
 * transport cannot take pre-built WebSocket bytes (HTTP long-polling).
 */
export type SocketIoFrame = Readonly<Record<Namespace, EncodedPacket>> & {
  readonly parts?: readonly SocketIoFrame[];
  /** True when the namespaces' pre-built WebSocket bytes hold every part. */
  readonly merged?: boolean;
};

/** The `message` of the replaced service's `connected` event, in each namespace. */
const GREETING: Readonly<Record<Namespace, string>> = { '/': 'Connected', '/events': 'Connected to events endpoint' };

/** Event names the replaced service's clients listen for, and ours for the rest. */
function eventOf(event: HubEvent): [string, unknown] | null {
  switch (event.type) {
    case 'code':
      return ['new_code', event.data];
    case 'revoke':
      return ['revoke_code', event.data.id];
    case 'ping':
      // engine.io's own heartbeat already crosses every Socket.IO connection.
      return null;
    default:
      return [event.type, event.data];
  }
}

/**
 * Encodes hub events as Socket.IO EVENT packets once per namespace, with the
 * WebSocket frame pre-built the way socket.io-adapter does for its own
 * broadcasts, so engine.io writes the same bytes to every client.
 */
export class SocketIoEncoder implements Encoder<SocketIoFrame> {
  readonly transport = 'socketio' as const;
  readonly #packetEncoder = new PacketEncoder();

  /**
   * One engine.io write whose pre-built WebSocket bytes hold every frame, as
   * long as each part has such bytes; otherwise the parts go one by one.
   */
  combine(frames: readonly SocketIoFrame[]): SocketIoFrame {
    const parts = frames.flatMap((frame) => frame.parts ?? [frame]);
    const merged = (nsp: Namespace): EncodedPacket | undefined => {
      const packets = parts.map((part) => part[nsp]);
      if (packets.some((p) => p.options.wsPreEncodedFrame === undefined || p.packets.length !== 1)) return undefined;
      const bytes = Buffer.concat(packets.flatMap((p) => p.options.wsPreEncodedFrame as Buffer[]));
      return { packets: (packets[0] as EncodedPacket).packets, options: { preEncoded: true, wsPreEncodedFrame: [bytes] } };
    };
    const root = merged('/');
    const events = merged('/events');
    if (!root || !events) return { ...(parts[0] as SocketIoFrame), parts, merged: false };
    return { '/': root, '/events': events, parts, merged: true };
  }

  encode(event: HubEvent): SocketIoFrame | null {
    const args = eventOf(event);
    if (!args) return null;
    const frame = { '/': this.#encode('/', args), '/events': this.#encode('/events', args) };
    if (event.type !== 'hello') return frame;
    // The replaced service greeted each namespace with `connected`, and its
    // clients wait for it (docs/MIGRATING.md): it follows hello, with the
    // same data and the replaced service's message, before any code.
    const connected = (nsp: Namespace) => this.#encode(nsp, ['connected', { message: GREETING[nsp], ...event.data }]);
    return this.combine([frame, { '/': connected('/'), '/events': connected('/events') }]);
  }

  #encode(nsp: Namespace, data: [string, unknown]): EncodedPacket {
    const packets = this.#packetEncoder.encode({ type: PacketType.EVENT, nsp, data }) as (string | Buffer)[];
    const first = packets[0];
    if (packets.length === 1 && typeof first === 'string') {
      // "4" is engine.io's MESSAGE packet type. One Buffer, not ws's [header,
      // payload]: ws's sendFrame writes a one-part frame with a plain write,
      // two parts through cork, two writes and uncork (a writev), which cost
      // every delivery about a third more CPU in the benchmark.
      const wsPreEncodedFrame = [frameBytes(Buffer.from(`4${first}`))];
      return { packets, options: { preEncoded: true, wsPreEncodedFrame } };
    }
    return { packets, options: { preEncoded: true } };
  }
}
