/** One dispatched SSE event. */
export interface EventStreamFrame {
  readonly event: string;
  readonly data: string;
  /** The frame's own `id:` field, if it had one. */
  readonly id: string | undefined;
}

/**
 * Parses `text/event-stream` as WHATWG HTML §9.2.6 says: lines end in CRLF,
 * LF or CR; a blank line dispatches; `data` lines join with LF; a frame with
 * no data is not dispatched; `retry:` takes digits only.
 *
 * Hand-written rather than `eventsource-parser` because the browser build of
 * the client has no dependencies (it is served as it is, with no bundler); a
 * property test checks it against that library on arbitrary chunkings.
 */
export class EventStreamParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  #firstChunk = true;

  constructor(
    private readonly onFrame: (frame: EventStreamFrame) => void,
    private readonly onRetry: (ms: number) => void,
  ) {}

  /** Feeds decoded text, in any chunking. */
  push(text: string): void {
    // A byte order mark may open the stream, and is not part of the first field.
    if (this.#firstChunk && text !== '') {
      this.#firstChunk = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.#buffer += text;
    let start = 0;
    const buffer = this.#buffer;
    for (;;) {
      const lf = buffer.indexOf('\n', start);
      const cr = buffer.indexOf('\r', start);
      const end = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
      if (end < 0) break;
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (end === cr && cr === buffer.length - 1) break;
      this.#line(buffer.slice(start, end));
      start = end + (end === cr && buffer.charCodeAt(cr + 1) === 10 ? 2 : 1);
    }
    this.#buffer = buffer.slice(start);
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) this.onFrame({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id });
      this.#event = '';
      this.#data = [];
      this.#id = undefined;
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}
