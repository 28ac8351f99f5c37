import type { Encoder, HubEvent } from '../../hub/index.js';

/**
 * Encodes hub events as Server-Sent Events frames, once per event for every
 * SSE connection. `data:` is always one line of JSON: JSON.stringify escapes
 * CR and LF, so no value can break the framing (WHATWG HTML §9.2.6).
 */
export class SseEncoder implements Encoder<Buffer> {
  readonly transport = 'sse' as const;

  combine(frames: readonly Buffer[]): Buffer {
    return Buffer.concat(frames);
  }

  encode(event: HubEvent): Buffer {
    const data = JSON.stringify(event.data);
    switch (event.type) {
      case 'code':
        return Buffer.from(`id: ${event.data.id}\nevent: code\ndata: ${data}\n\n`);
      case 'shutdown':
        // The retry line makes EventSource wait the announced delay before it reconnects.
        return Buffer.from(`retry: ${event.data.reconnectAfterMs}\nevent: shutdown\ndata: ${data}\n\n`);
      default:
        return Buffer.from(`event: ${event.type}\ndata: ${data}\n\n`);
    }
  }
}
