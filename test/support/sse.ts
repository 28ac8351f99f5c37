import { EventSource } from 'eventsource';

export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: any;
}

/**
 * One SSE frame (the text between blank lines) as an event with JSON data,
 * per the WHATWG field rules; undefined for a block without data (`retry:`).
 */
export function parseSseBlock(block: string): SseEvent | undefined {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? undefined : { event, id, data: JSON.parse(data.join('\n')) };
}

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface SseReaderOptions {
  readonly token?: string;
  readonly since?: number;
  readonly lastEventId?: string | number;
  readonly query?: string;
  /** More request headers (an `Origin`, say). */
  readonly headers?: Record<string, string>;
}

/**
 * A raw SSE reader over fetch: sees every frame and the end of the stream,
 * never reconnects by itself. Frames are parsed per the WHATWG rules we use.
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  readonly raw: string[] = [];
  status = 0;
  headers: Headers | undefined;
  ended = false;
  error: unknown;
  #controller = new AbortController();
  #buffer = '';

  static async open(url: string, options: SseReaderOptions = {}): Promise<SseReader> {
    const reader = new SseReader();
    await reader.#start(url, options);
    return reader;
  }

  async #start(url: string, options: SseReaderOptions) {
    const params = new URLSearchParams();
    if (options.since !== undefined) params.set('since', String(options.since));
    const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
    const qs = [params.toString(), options.query ?? ''].filter(Boolean).join('&');
    const response = await fetch(`${url}/api/v1/stream${qs ? `?${qs}` : ''}`, { headers, signal: this.#controller.signal });
    this.status = response.status;
    this.headers = response.headers;
    if (response.status !== 200 || !response.body) {
      this.ended = true;
      const text = await response.text();
      this.events.push({ event: 'http-error', id: undefined, data: text ? JSON.parse(text) : undefined });
      return;
    }
    const decoder = new TextDecoder();
    const stream = response.body.getReader();
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await stream.read();
          if (done) break;
          const text = decoder.decode(value, { stream: true });
          this.raw.push(text);
          this.#feed(text);
        }
      } catch (error) {
        this.error = error;
      } finally {
        this.ended = true;
      }
    })();
  }

  #feed(text: string) {
    this.#buffer += text;
    for (let cut = this.#buffer.indexOf('\n\n'); cut >= 0; cut = this.#buffer.indexOf('\n\n')) {
      const event = parseSseBlock(this.#buffer.slice(0, cut));
      this.#buffer = this.#buffer.slice(cut + 2);
      if (event) this.events.push(event);
    }
  }

  of(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  codeIds(): number[] {
    return this.of('code').map((e) => e.data.id as number);
  }

  get connectionId(): string {
    const hello = this.of('hello')[0];
    if (!hello) throw new Error('no hello yet');
    return hello.data.connectionId;
  }

  async waitForEvent(event: string, count = 1, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.of(event).length >= count, `${count} "${event}" event(s)`, timeoutMs);
  }

  async waitForEnd(timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.ended, 'the stream to end', timeoutMs);
  }

  close(): void {
    this.#controller.abort();
  }
}

/** The `eventsource` package, as a browser's EventSource would behave (reconnects with Last-Event-ID). */
export function openEventSource(url: string, token: string, query = ''): { source: EventSource; events: SseEvent[] } {
  const events: SseEvent[] = [];
  const source = new EventSource(`${url}/api/v1/stream?token=${encodeURIComponent(token)}${query ? `&${query}` : ''}`);
  for (const name of ['hello', 'code', 'revoke', 'reset', 'ping', 'shutdown']) {
    source.addEventListener(name, (message) => {
      events.push({ event: name, id: message.lastEventId || undefined, data: JSON.parse(message.data) });
    });
  }
  return { source, events };
}
