import { CodecastClientError, errorOfResponse } from './client-error.js';
import { EventStreamParser, EventStreamTooLarge, type EventStreamFrame } from './event-stream-parser.js';
import type { NoStoreInit } from './http-api.js';
import type { Link, LinkEvents } from './link.js';

export interface SseLinkOptions {
  /** `…/api/v1/stream`. */
  readonly url: URL;
  readonly token: string;
  /** Sent as Last-Event-ID: the server replays what came after it. */
  readonly lastId: number | undefined;
  readonly fetch: typeof fetch;
}

/**
 * An SSE connection over fetch streaming rather than EventSource: fetch puts
 * the token in the Authorization header, so it never lands in a URL, a log or
 * the browser history, and it shows the HTTP status of a refusal, which
 * EventSource hides.
 */
export function openSseLink(options: SseLinkOptions, events: LinkEvents): Link {
  const controller = new AbortController();
  let closing = false;
  const dispatch = (frame: EventStreamFrame) => {
    if (closing) return;
    let data: unknown;
    try {
      data = JSON.parse(frame.data);
    } catch {
      return; // not ours: every codecast frame carries JSON
    }
    events.message(frame.event, data);
  };
  const run = async (): Promise<CodecastClientError> => {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}`, accept: 'text/event-stream' };
    if (options.lastId !== undefined) headers['last-event-id'] = String(options.lastId);
    let response: Response;
    try {
      const init: NoStoreInit = { headers, signal: controller.signal, cache: 'no-store' };
      response = await options.fetch(options.url, init);
    } catch {
      return new CodecastClientError('network_error', `${options.url.origin} cannot be reached.`);
    }
    if (!response.ok) return errorOfResponse(response);
    if (!response.body || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await response.body?.cancel().catch(() => undefined);
      return new CodecastClientError('bad_response', `${options.url.href} did not answer with an event stream.`, {
        status: response.status,
      });
    }
    const parser = new EventStreamParser(dispatch, (ms) => events.retry(ms));
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return new CodecastClientError('stream_ended', 'The server ended the stream.');
        if (closing) break;
        events.alive();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (error) {
      // A frame past the parser's bound: not codecast's stream (a wrong URL,
      // a broken proxy). Retried like any answer that is not ours.
      if (error instanceof EventStreamTooLarge) return new CodecastClientError('bad_response', error.message);
      // Otherwise aborted (by close() or the watchdog), or the connection broke.
    }
    return new CodecastClientError('network_error', 'The connection was lost.');
  };
  const finished = run().then((error) => {
    controller.abort();
    if (!closing) events.ended(error);
  });
  return {
    ack: () => false,
    close: async () => {
      closing = true;
      controller.abort();
      await finished;
    },
  };
}
