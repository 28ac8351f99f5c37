/** One dispatched SSE event. */
export interface EventStreamFrame {
  readonly event: string;
  readonly data: string;
  /** The frame's own `id:` field, if it had one. */
  readonly id: string | undefined;
}

/**
 * The most a frame may hold, in UTF-16 units: its data lines together, or a
 * line not yet ended. A codecast frame is a few KiB at most; without a bound
 * a server (or whatever answers in its place) sending an endless line would
 * fill the client's memory.
 */
export const MAX_FRAME_CHARS = 1024 * 1024;

/** The stream broke {@link MAX_FRAME_CHARS}: it is not codecast's, and the parser takes nothing more. */
export class EventStreamTooLarge extends Error {
  override readonly name = 'EventStreamTooLarge';
}

/**
 * Parses `text/event-stream` as WHATWG HTML §9.2.6 says: lines end in CRLF,
 * LF or CR; a blank line dispatches; `data` lines join with LF; a frame with
 * no data is not dispatched; `retry:` takes digits only.
 *
 * Each chunk is scanned once (the unended line is kept, never rescanned), so
 * the work is linear in the stream's length however it is cut. A CR ends its
 * line at once, even at the end of a chunk; an LF opening the next chunk is
 * then the rest of a CRLF, not a blank line.
 *
 * Hand-written rather than `eventsource-parser` because the browser build of
 * the client has no dependencies (it is served as it is, with no bundler); a
 * property test checks it against that library on arbitrary chunkings.
 */
export class EventStreamParser {
  /** The start of a line whose end has not come yet. */
  #partial = '';
  /** The last chunk ended in CR: an LF opening the next one belongs to it. */
  #afterCr = false;
  #event = '';
  #data: string[] = [];
  #dataChars = 0;
  #id: string | undefined;
  #firstChunk = true;
  #broken = false;

  constructor(
    private readonly onFrame: (frame: EventStreamFrame) => void,
    private readonly onRetry: (ms: number) => void,
  ) {}

  /**
   * Feeds decoded text, in any chunking.
   * @throws EventStreamTooLarge once a line or a frame exceeds {@link MAX_FRAME_CHARS}
   */
  push(text: string): void {
    if (this.#broken) throw new EventStreamTooLarge('The event stream was over its size limit.');
    // A byte order mark may open the stream, and is not part of the first field.
    if (this.#firstChunk && text !== '') {
      this.#firstChunk = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    if (this.#afterCr && text !== '') {
      this.#afterCr = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    let lf = text.indexOf('\n', start);
    let cr = text.indexOf('\r', start);
    while (lf >= 0 || cr >= 0) {
      const end = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
      const line = this.#partial === '' ? text.slice(start, end) : this.#partial + text.slice(start, end);
      this.#partial = '';
      start = end + 1;
      if (end === cr) {
        if (start === text.length) this.#afterCr = true;
        else if (text.charCodeAt(start) === 10) start++;
      }
      this.#line(line);
      if (lf >= 0 && lf < start) lf = text.indexOf('\n', start);
      if (cr >= 0 && cr < start) cr = text.indexOf('\r', start);
    }
    if (start < text.length) {
      this.#partial += text.slice(start);
      this.#check(this.#partial.length + this.#dataChars);
    }
  }

  #check(chars: number): void {
    if (chars <= MAX_FRAME_CHARS) return;
    this.#broken = true;
    this.#partial = '';
    this.#data = [];
    throw new EventStreamTooLarge(`An event-stream frame is longer than ${MAX_FRAME_CHARS} characters.`);
  }

  #line(line: string): void {
    this.#check(line.length + this.#dataChars);
    if (line === '') {
      if (this.#data.length > 0) this.onFrame({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id });
      this.#event = '';
      this.#data = [];
      this.#dataChars = 0;
      this.#id = undefined;
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') {
      this.#dataChars += value.length + 1;
      this.#data.push(value);
    } else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}
