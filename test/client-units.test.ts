// The client library's parts that need no server: its SSE parser against a
// reference implementation, its backoff, and its refusal messages against
// the server's error catalog.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createParser } from 'eventsource-parser';
import fc from 'fast-check';
import { askedDelayMs, backoffMs, checkBackoffOptions, MAX_DELAY_MS, MIN_DELAY_MS, reconnectDelayMs } from '../src/client/backoff.js';
import { errorOfClose, errorOfResponse, REFUSAL_MESSAGES } from '../src/client/client-error.js';
import { EventStreamParser, EventStreamTooLarge, MAX_FRAME_CHARS } from '../src/client/event-stream-parser.js';
import { errorCatalog } from '../src/domain/errors.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);

/** What a parser reports, the same way for both. */
type Report = { event: string; data: string; id: string | undefined } | { retry: number };

function ours(chunks: readonly string[]): Report[] {
  const out: Report[] = [];
  const parser = new EventStreamParser(
    (frame) => out.push({ event: frame.event, data: frame.data, id: frame.id }),
    (retry) => out.push({ retry }),
  );
  for (const chunk of chunks) parser.push(chunk);
  return out;
}

function reference(chunks: readonly string[]): Report[] {
  const out: Report[] = [];
  const parser = createParser({
    onEvent: (event) => out.push({ event: event.event ?? 'message', data: event.data, id: event.id }),
    onRetry: (retry) => out.push({ retry }),
  });
  for (const chunk of chunks) parser.feed(chunk);
  return out;
}

// Lines as a server (or a proxy, or a hostile one) may write them.
const value = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', '{', '"', '\0', 'é', '😀', '\u2028'), maxLength: 8 });
const line = fc.oneof(
  value.map((v) => `data: ${v}`),
  value.map((v) => `data:${v}`),
  fc.constant('data'),
  value.map((v) => `event: ${v}`),
  value.map((v) => `id: ${v}`),
  fc.nat(100_000).map((n) => `retry: ${n}`),
  value.map((v) => `retry: ${v}`),
  value.map((v) => `: ${v}`),
  value.map((v) => `unknown: ${v}`),
  fc.constant(''),
);
const ending = fc.constantFrom('\n', '\r', '\r\n');
const stream = fc
  .array(fc.tuple(line, ending), { maxLength: 30 })
  .map((lines) => lines.map(([text, end]) => text + end).join(''))
  // Ends with a blank line so the last frame is dispatched.
  .map((text) => `${text}\n\n`);

/** The text cut at arbitrary points (a CRLF may be split between chunks). */
function chunked(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(text.slice(start, point));
    start = point;
  }
  chunks.push(text.slice(start));
  return chunks;
}

describe('the client’s SSE parser', () => {
  test('reads what eventsource-parser reads, whatever the line endings and however the stream is cut', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 12 }), (text, cuts) => {
        assert.deepEqual(ours(chunked(text, cuts)), reference([text]));
      }),
      { numRuns: RUNS },
    );
  });

  test('a CR ends its line at once, even at the end of a chunk; an LF opening the next chunk is the rest of a CRLF', () => {
    assert.deepEqual(ours(['data: a\r', '\ndata: b\r', '\n\r', '\n']), [{ event: 'message', data: 'a\nb', id: undefined }]);
    assert.deepEqual(ours(['\uFEFFevent: code\nid: 7\ndata: {}\n\n']), [{ event: 'code', data: '{}', id: '7' }], 'a BOM is skipped');
    // A server ending lines in CR alone: the frame is out with its last CR, not held until more bytes come.
    const frames: string[] = [];
    const parser = new EventStreamParser(
      (frame) => frames.push(frame.data),
      () => undefined,
    );
    parser.push('data: a\r');
    parser.push('\r');
    assert.deepEqual(frames, ['a']);
    parser.push('\ndata: b\r\r');
    assert.deepEqual(frames, ['a', 'b'], 'the LF after a chunk-ending CR is not a blank line');
  });

  test('a line or a frame over 1 MiB ends the stream, however it comes', () => {
    const endless = new EventStreamParser(
      () => assert.fail('no frame'),
      () => undefined,
    );
    const chunk = 'x'.repeat(64 * 1024);
    assert.throws(() => {
      for (let i = 0; i <= MAX_FRAME_CHARS / chunk.length; i++) endless.push(chunk);
    }, EventStreamTooLarge);
    assert.throws(() => endless.push('\n\n'), EventStreamTooLarge, 'and takes nothing more');

    // Many data lines, each short, that never end their frame.
    const lines = new EventStreamParser(
      () => assert.fail('no frame'),
      () => undefined,
    );
    assert.throws(() => {
      for (let i = 0; i <= MAX_FRAME_CHARS / 1024; i++) lines.push(`data: ${'y'.repeat(1024)}\n`);
    }, EventStreamTooLarge);

    // Just under the bound is a frame like any other.
    const frames: number[] = [];
    const big = new EventStreamParser(
      (frame) => frames.push(frame.data.length),
      () => undefined,
    );
    big.push(`data: ${'z'.repeat(MAX_FRAME_CHARS - 10)}\n\n`);
    assert.deepEqual(frames, [MAX_FRAME_CHARS - 10]);
  });

  test('the work is linear: a long line in small chunks, and many lines in one chunk, each parse in well under a second', () => {
    // Rescanning the unended line at every chunk made this quadratic: about
    // 1 MiB in 64-byte pieces took seconds; 100 MB took minutes.
    const parser = new EventStreamParser(
      () => undefined,
      () => undefined,
    );
    const piece = 'p'.repeat(64);
    let started = performance.now();
    for (let i = 0; i < (MAX_FRAME_CHARS - 1024) / piece.length; i++) parser.push(piece);
    parser.push('\n\n');
    assert.ok(performance.now() - started < 1000, `a long line in 64-byte chunks: ${Math.round(performance.now() - started)} ms`);

    let frames = 0;
    const many = new EventStreamParser(
      () => frames++,
      () => undefined,
    );
    const text = 'event: code\r\nid: 1\r\ndata: {"id":1,"code":"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}\r\n\r\n'.repeat(50_000);
    started = performance.now();
    for (let at = 0; at < text.length; at += 65_536) many.push(text.slice(at, at + 65_536));
    assert.equal(frames, 50_000);
    assert.ok(performance.now() - started < 1000, `50 000 CRLF frames in 64 KiB chunks: ${Math.round(performance.now() - started)} ms`);
  });
});

describe('the client’s reconnect delays', () => {
  test('backoff: between half and all of initial × 2^attempt, capped at the maximum', () => {
    for (const [attempt, base] of [
      [0, 1000],
      [1, 2000],
      [3, 8000],
      [5, 30_000],
      [60, 30_000],
    ] as const) {
      assert.equal(
        backoffMs(attempt, 1000, 30_000, () => 0),
        base / 2,
      );
      assert.equal(
        backoffMs(attempt, 1000, 30_000, () => 0.999_999),
        base,
      );
    }
  });

  test('every wait is at least 250 ms and at most 10 minutes; what the server asks for counts only when longer than the backoff', () => {
    const least = () => 0;
    const most = () => 0.999_999;
    // Retry-After: 0, `retry: 0`, a shutdown announcing 0 ms: never a loop as fast as the network answers.
    assert.equal(reconnectDelayMs(0, { initialMs: 0, maxMs: 30_000, askedMs: 0 }, least), MIN_DELAY_MS);
    assert.equal(reconnectDelayMs(0, { initialMs: 1000, maxMs: 0 }, least), MIN_DELAY_MS);
    // The backoff grows from the floor even when the hint was 0…
    assert.equal(reconnectDelayMs(3, { initialMs: 0, maxMs: 30_000 }, most), 2000);
    // …and a server answering 503 with a short Retry-After again and again still meets growing waits.
    assert.equal(reconnectDelayMs(5, { initialMs: 1000, maxMs: 30_000, askedMs: 1000 }, most), 30_000);
    assert.equal(reconnectDelayMs(0, { initialMs: 1000, maxMs: 30_000, askedMs: 5000 }, least), 5000, 'a longer ask is honoured');
    // Retry-After: 3000000 (s): capped, not overflowed into setTimeout's 1 ms.
    assert.equal(reconnectDelayMs(0, { initialMs: 1000, maxMs: 30_000, askedMs: 3_000_000_000 }, least), MAX_DELAY_MS);
    assert.equal(reconnectDelayMs(0, { initialMs: 1000, maxMs: 30_000, askedMs: Number.NaN }, least), 500);
  });

  test('the reconnect options are checked: a number of ms from 0 to 10 minutes', () => {
    checkBackoffOptions(undefined);
    checkBackoffOptions({ initialMs: 0, maxMs: MAX_DELAY_MS });
    for (const bad of [
      { initialMs: -1 },
      { initialMs: Number.NaN },
      { maxMs: Number.POSITIVE_INFINITY },
      { maxMs: 3_600_000 },
      { initialMs: '100' },
    ]) {
      assert.throws(
        () => checkBackoffOptions(bad as never),
        /reconnect\.(initialMs|maxMs)` must be a number of ms from 0 to 600000/,
        JSON.stringify(bad),
      );
    }
  });

  test('a delay the server asked for is waited in full, and at most a quarter more', () => {
    assert.equal(
      askedDelayMs(5000, () => 0),
      5000,
    );
    assert.equal(
      askedDelayMs(5000, () => 0.999_999),
      6250,
    );
  });
});

describe('the client’s errors', () => {
  test('the messages of WebSocket refusals are the catalog’s, word for word', () => {
    for (const [code, message] of Object.entries(REFUSAL_MESSAGES)) {
      if (code in errorCatalog) assert.equal(message, errorCatalog[code as keyof typeof errorCatalog].message, code);
    }
    for (const code of ['unauthorized', 'user_disabled', 'server_full', 'too_many_connections_for_user']) {
      assert.ok(code in REFUSAL_MESSAGES, `${code} has a message`);
    }
  });

  test('an HTTP refusal is final only when codecast gave it with 400, 401 or 403; a proxy’s page never is', async () => {
    const json = (status: number, error: string, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify({ error, message: `${error}.` }), {
        status,
        headers: { 'content-type': 'application/json', ...headers },
      });
    const html = (status: number) => new Response('<h1>no backend</h1>', { status, headers: { 'content-type': 'text/html' } });
    const outcome = async (response: Response) => {
      const error = await errorOfResponse(response);
      return [error.code, error.status, error.final, error.retryAfterMs];
    };
    assert.deepEqual(await outcome(json(401, 'unauthorized')), ['unauthorized', 401, true, undefined]);
    assert.deepEqual(await outcome(json(403, 'origin_not_allowed')), ['origin_not_allowed', 403, true, undefined]);
    assert.deepEqual(await outcome(json(400, 'invalid_request')), ['invalid_request', 400, true, undefined]);
    assert.deepEqual(await outcome(json(404, 'not_found')), ['not_found', 404, false, undefined]);
    assert.deepEqual(await outcome(json(429, 'too_many_auth_failures', { 'retry-after': '7' })), [
      'too_many_auth_failures',
      429,
      false,
      7000,
    ]);
    assert.deepEqual(await outcome(json(503, 'server_full', { 'retry-after': '5' })), ['server_full', 503, false, 5000]);
    for (const status of [400, 401, 403, 404, 410, 502]) {
      assert.deepEqual(await outcome(html(status)), ['bad_response', status, false, undefined], `a proxy's ${status}`);
    }
  });

  test('close codes: 4400, 4401 and 4403 are final, with the HTTP status they echo; the rest retry', () => {
    const revoked = errorOfClose(4401, 'token_revoked');
    assert.deepEqual(
      [revoked.code, revoked.status, revoked.final, revoked.message],
      ['token_revoked', 401, true, 'The token was revoked.'],
    );
    const disabled = errorOfClose(4403, 'user_disabled');
    assert.deepEqual([disabled.status, disabled.final, disabled.message], [403, true, 'This user is disabled.']);
    assert.equal(errorOfClose(4400, 'invalid_request').final, true);
    for (const [code, reason] of [
      [4001, 'slow_consumer'],
      [4408, 'stale'],
      [4429, 'too_many_messages'],
      [1013, 'server_full'],
      [1011, 'error'],
      [1006, ''],
    ] as const) {
      assert.equal(errorOfClose(code, reason).final, false, `${code} ${reason}`);
    }
    assert.equal(errorOfClose(1006, '').code, 'network_error');
    const shutdown = errorOfClose(1001, 'shutdown');
    assert.equal(shutdown.code, 'shutdown');
    assert.equal(shutdown.final, false);
  });
});
