// Property-based tests (fast-check), issue 9 "Proof beyond examples".
//
// Validators: no value they accept holds a control or invisible format
// character, every accepted value is already canonical (NFC, trimmed), and
// what the API accepts it gives back unchanged, by the same rules.
//
// Encoders: whatever strings a code holds — CR, LF, U+2028, U+0085, NUL,
// lone surrogates, `data:` lines, JSON-breaking characters, in every field —
// a real parser of each wire format reads exactly one event of the right
// type carrying exactly that code. The encoders are fed codes built from
// arbitrary strings, not only those the API accepts: a superset, so the
// framing does not lean on validation.
//
// Runs are bounded so that the file takes a few seconds.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { Decoder, PacketType, type Packet } from 'socket.io-parser';
import * as wsModule from 'ws';
import {
  CodecastError,
  USERNAME_PATTERN,
  draftCode,
  parseSince,
  plainDecimal,
  tokenLabel,
  type Code,
  type CodeDraft,
} from '../src/domain/index.js';
import type { HubEvent } from '../src/hub/index.js';
import { SocketIoEncoder, NAMESPACES, type EncodedPacket } from '../src/transports/socketio/socketio-encoder.js';
import { SseEncoder } from '../src/transports/sse/sse-encoder.js';
import { WsEncoder } from '../src/transports/ws/ws-encoder.js';
import { startTestServer, type TestServer } from './support/server.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);

// ---- arbitraries ---------------------------------------------------------

/** Pieces that have broken line- or JSON-based framing somewhere. */
const NASTY = [
  '\r',
  '\n',
  '\r\n',
  '\n\n',
  '\u2028',
  '\u2029',
  '\u0085',
  '\u0000',
  '\u0001',
  '\u001b',
  '\u007f',
  '\t',
  '\u000b',
  '\u000c',
  '\ud800',
  '\udfff',
  '\udc00\ud800',
  '\ud83d',
  '\ud83d\ude00',
  'data: ',
  'data:{"id":1}',
  '\n\ndata: {"id":1}\n\n',
  'event: revoke\n',
  'id: 9\n',
  'retry: 1\n',
  ':\n',
  '\r\r',
  '"',
  '\\',
  '\\u0000',
  '{',
  '}',
  '[',
  ']',
  ',',
  '</script>',
  '42["new_code",{}]',
  '451-["x",{"_placeholder":true,"num":0}]',
  '\u202e',
  '\u2066',
  '\u200b',
  '\u200d',
  '\ufeff',
  '\u00ad',
  ' ',
  '\u00a0',
  '\u3000',
  'cafe\u0301',
  'caf\u00e9',
  '\u1e9b\u0323',
  '\u0130',
  '\u{1f468}\u200d\u{1f469}',
];

/** Arbitrary text: any code points, mixed with the nasty pieces above. */
const text = (maxPieces = 10) =>
  fc
    .array(
      fc.oneof(
        { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
        fc.constantFrom(...NASTY),
        fc.string({ unit: 'grapheme-ascii', maxLength: 6 }),
      ),
      { maxLength: maxPieces },
    )
    .map((pieces) => pieces.join(''));

/** Text that stays within the API's field lengths more often. */
const codeText = fc.oneof(text(8), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.stringMatching(/^[A-Z0-9-]{1,16}$/));

const wordish = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,8}$/), text(3));

/** Any JSON number a code's value can hold; -0 is written as 0 by JSON and is left out. */
const value = fc.oneof(
  fc.constant(null),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
  fc.integer(),
);

/** Codes with arbitrary strings in every field, and any safe id. */
const anyCode: fc.Arbitrary<Code> = fc.record(
  {
    id: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    code: text(),
    value,
    type: fc.option(text(), { nil: null }),
    message: fc.option(text(20), { nil: null }),
    publishedAt: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      text(),
    ),
    expiresAt: fc.option(text(), { nil: null }),
    source: text(),
  },
  { noNullPrototype: true },
);

// ---- an oracle for "control or format character", written independently -

function forbiddenIn(field: 'code' | 'type' | 'source' | 'label' | 'message', value: string): string | undefined {
  for (const ch of value) {
    const cp = ch.codePointAt(0) as number;
    if (cp >= 0xd800 && cp <= 0xdfff) return `lone surrogate U+${cp.toString(16)}`;
    const isControl = cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
    const isFormat = /^\p{Cf}$/u.test(ch);
    const isSeparator = cp === 0x2028 || cp === 0x2029;
    if (field === 'message' && (ch === '\n' || ch === '\t' || ch === '\u200c' || ch === '\u200d')) continue;
    if (isControl || isFormat || isSeparator) return `U+${cp.toString(16).padStart(4, '0')}`;
  }
  return undefined;
}

const canonical = (s: string) => s === s.normalize('NFC') && s === s.trim();

function tryDraft(input: Parameters<typeof draftCode>[0]): CodeDraft | CodecastError {
  try {
    return draftCode(input, null);
  } catch (error) {
    if (error instanceof CodecastError) return error;
    throw error;
  }
}

// ---- validators ----------------------------------------------------------

describe('validators (properties)', () => {
  const publishInput = fc.record(
    {
      code: codeText,
      type: fc.option(wordish, { nil: undefined }),
      source: fc.option(wordish, { nil: undefined }),
      message: fc.option(text(20), { nil: undefined }),
    },
    { requiredKeys: ['code'] },
  );

  test('an accepted code, type, source and message hold no control or format character and are canonical', () => {
    fc.assert(
      fc.property(publishInput, (input) => {
        const draft = tryDraft(input);
        if (draft instanceof CodecastError) {
          assert.equal(draft.code, 'invalid_code');
          assert.ok(['code', 'type', 'source', 'message'].includes(String(draft.details?.field)));
          return;
        }
        for (const field of ['code', 'type', 'source'] as const) {
          const v: string | null = draft[field];
          if (v !== null) {
            assert.equal(forbiddenIn(field, v), undefined, `${field} ${JSON.stringify(v)}`);
            assert.ok(canonical(v), `${field} is canonical`);
          }
        }
        if (draft.message !== null) {
          assert.equal(forbiddenIn('message', draft.message), undefined, `message ${JSON.stringify(draft.message)}`);
          assert.ok(canonical(draft.message) && !draft.message.includes('\r'));
        }
        // The stored value is what the input meant: NFC of the trimmed input.
        assert.equal(draft.code, input.code.normalize('NFC').trim());
        // And accepted values are a fixed point: validating them again changes nothing.
        assert.deepEqual(draftCode({ ...draft, message: draft.message, type: draft.type }, null), draft);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  test('an input with a control or format character inside its code is always refused', () => {
    const bad = fc.tuple(
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 5 }),
      fc.constantFrom(
        '\u0000',
        '\u0007',
        '\n',
        '\r',
        '\u0085',
        '\u2028',
        '\u202e',
        '\u2066',
        '\u200b',
        '\u200e',
        '\ufeff',
        '\u00ad',
        '\u061c',
      ),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 5 }),
    );
    fc.assert(
      fc.property(bad, ([a, ch, b]) => {
        fc.pre(a.trim() !== '' && b.trim() !== '');
        const draft = tryDraft({ code: `${a.trim()}${ch}${b.trim()}` });
        assert.ok(draft instanceof CodecastError && draft.details?.field === 'code');
      }),
      { numRuns: RUNS },
    );
  });

  test('an accepted token label holds no control or format character and is canonical', () => {
    fc.assert(
      fc.property(fc.option(text(12), { nil: null }), (label) => {
        let result: string | null;
        try {
          result = tokenLabel(label);
        } catch (error) {
          assert.ok(error instanceof CodecastError && error.code === 'invalid_request' && error.details?.field === 'label');
          return;
        }
        if (result === null) return;
        assert.equal(forbiddenIn('label', result), undefined, JSON.stringify(result));
        assert.ok(canonical(result));
        assert.equal(tokenLabel(result), result);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test('an accepted username is printable ASCII with no control character', () => {
    fc.assert(
      fc.property(fc.oneof(text(4), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,10}$/)), (name) => {
        if (!USERNAME_PATTERN.test(name)) return;
        assert.match(name, /^[\x21-\x7e]{1,64}$/);
        assert.equal(forbiddenIn('code', name), undefined);
      }),
      { numRuns: RUNS },
    );
  });

  test('ids: only plain decimal digits within the safe range are numbers, and they mean their decimal value', () => {
    const spelled = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 6 }),
      fc.bigInt({ min: 0n, max: 2n ** 60n }).map(String),
      fc
        .tuple(
          fc.constantFrom('', ' ', '+', '-', '0x', '0b', '0o', '\u0662', '\t'),
          fc.nat().map(String),
          fc.constantFrom('', ' ', 'e0', '.0', 'n', '\u0662'),
        )
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(spelled, (s) => {
        const n = plainDecimal(s);
        const plain = /^[0-9]+$/.test(s) && s.length <= 16 && BigInt(s) <= BigInt(Number.MAX_SAFE_INTEGER);
        assert.equal(n !== undefined, plain, JSON.stringify(s));
        if (n !== undefined) {
          assert.equal(BigInt(n), BigInt(s));
          assert.equal(parseSince(s), n);
        } else if (s !== '') {
          assert.throws(
            () => parseSince(s),
            (e: unknown) => e instanceof CodecastError && e.code === 'invalid_request',
          );
        }
      }),
      { numRuns: RUNS * 3 },
    );
  });
});

// ---- the API gives back what it accepts ------------------------------------

describe('the API round-trips what it accepts (properties, real server)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_DEDUP_SECONDS: '0', CODECAST_BODY_LIMIT_BYTES: String(1024 * 1024) });
    await t.createUser('label-owner');
  });
  after(() => t.stop());

  test('a publish is accepted exactly when the validator accepts it, and is stored and answered as the draft', async () => {
    const input = fc.record(
      {
        code: codeText,
        type: fc.option(wordish, { nil: null }),
        source: fc.option(wordish, { nil: undefined }),
        message: fc.option(text(12), { nil: null }),
        value,
      },
      { requiredKeys: ['code'] },
    );
    const seen = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(input, async (body) => {
        const draft = tryDraft(body);
        const res = await t.api('POST', '/api/v1/codes', { body });
        seen[draft instanceof CodecastError ? 'refused' : 'accepted']++;
        if (draft instanceof CodecastError) {
          assert.equal(res.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
          assert.equal(res.body.error, 'invalid_code');
          assert.equal(res.body.field, draft.details?.field);
          return;
        }
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const { code } = res.body;
        const expected = { code: draft.code, value: draft.value, type: draft.type, message: draft.message, source: draft.source };
        assert.deepEqual({ code: code.code, value: code.value, type: code.type, message: code.message, source: code.source }, expected);
        const stored = await t.api('GET', `/api/v1/codes/${code.id}`);
        assert.deepEqual(
          {
            code: stored.body.code.code,
            value: stored.body.code.value,
            type: stored.body.code.type,
            message: stored.body.code.message,
            source: stored.body.code.source,
          },
          expected,
        );
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
    // Both sides of the property were exercised, not only refusals.
    assert.ok(seen.accepted >= RUNS / 20 && seen.refused >= RUNS / 20, JSON.stringify(seen));
  });

  test('a token label is accepted exactly when the validator accepts it, and is given back canonical', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(text(8), { nil: null }), async (label) => {
        let expected: string | null | CodecastError;
        try {
          expected = tokenLabel(label);
        } catch (error) {
          expected = error as CodecastError;
        }
        const res = await t.api('POST', '/api/v1/users/label-owner/tokens', { body: { label } });
        if (expected instanceof CodecastError) {
          assert.equal(res.status, 400, JSON.stringify(res.body));
          assert.equal(res.body.field, 'label');
          return;
        }
        assert.equal(res.status, 201, `${JSON.stringify(label)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.token.label, expected);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  test('a user name is accepted exactly when it is well-formed and not taken in any case, and is given back unchanged', async () => {
    const taken = new Set<string>(['admin']);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,3}$/), text(3)), async (username) => {
        const res = await t.api('POST', '/api/v1/users', { body: { username } });
        if (!USERNAME_PATTERN.test(username)) {
          assert.equal(res.status, 400, JSON.stringify(res.body));
          return;
        }
        if (taken.has(username.toLowerCase()) || username.toLowerCase() === 'label-owner') {
          assert.equal(res.status, 409, `${username}: ${JSON.stringify(res.body)}`);
          assert.equal(res.body.error, 'user_exists');
          return;
        }
        assert.equal(res.status, 201, `${username}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.user.username, username);
        taken.add(username.toLowerCase());
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });
});

// ---- the encoders: one frame, one event, exactly the code ------------------

/** Every event a real SSE parser reads from `chunks`, fed one after another. */
function sseEvents(chunks: readonly string[]): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onError: (error) => assert.fail(`SSE parse error: ${error.message}`),
  });
  for (const chunk of chunks) parser.feed(chunk);
  return events;
}

/** The slice of ws's frame parser used here; @types/ws does not declare it, though ws exports it. */
interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  write(bytes: Buffer): void;
}
const { Receiver } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean; allowSynchronousEvents: boolean }) => FrameReceiver;
};

/** Every message ws's own Receiver (as a client: server frames are unmasked) reads from `bytes`. */
function wsMessages(bytes: Buffer): { text: string; binary: boolean }[] {
  const messages: { text: string; binary: boolean }[] = [];
  const receiver = new Receiver({ isServer: false, allowSynchronousEvents: true });
  receiver.on('message', (data: Buffer, isBinary: boolean) => messages.push({ text: data.toString('utf8'), binary: isBinary }));
  receiver.on('error', (error: Error) => assert.fail(`WebSocket frame error: ${error.message}`));
  receiver.write(bytes);
  return messages;
}

/** Every packet socket.io-parser's Decoder reads from the engine.io message `text`. */
function socketIoPackets(text: string): Packet[] {
  const packets: Packet[] = [];
  const decoder = new Decoder();
  decoder.on('decoded', (packet: Packet) => packets.push(packet));
  decoder.add(text);
  decoder.destroy();
  return packets;
}

/** Cuts `text` at the given fractions, as a network might deliver it. */
function cut(text: string, fractions: readonly number[]): string[] {
  const points = [...new Set(fractions.map((f) => Math.floor(f * text.length)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(text.slice(from, point));
    from = point;
  }
  chunks.push(text.slice(from));
  return chunks;
}

describe('encoders (properties)', () => {
  const codeEvent = (code: Code): HubEvent => ({ type: 'code', data: code });

  test('SSE: the frame parses as exactly one `code` event whose id and data JSON are the code, however it is cut', () => {
    const encoder = new SseEncoder();
    fc.assert(
      fc.property(anyCode, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), (code, fractions) => {
        const frame = encoder.encode(codeEvent(code)).toString('utf8');
        const events = sseEvents(cut(frame, fractions));
        assert.equal(events.length, 1, JSON.stringify(frame));
        const [event] = events as [EventSourceMessage];
        assert.equal(event.event, 'code');
        assert.equal(event.id, String(code.id));
        assert.deepEqual(JSON.parse(event.data), code);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test('SSE: frames back to back (one write of several) parse as one event each, in order', () => {
    const encoder = new SseEncoder();
    fc.assert(
      fc.property(fc.array(anyCode, { minLength: 1, maxLength: 5 }), (codes) => {
        const combined = encoder.combine(codes.map((code) => encoder.encode(codeEvent(code)))).toString('utf8');
        const events = sseEvents([combined]);
        assert.deepEqual(
          events.map((e) => e.event),
          codes.map(() => 'code'),
        );
        assert.deepEqual(
          events.map((e) => JSON.parse(e.data)),
          codes,
        );
      }),
      { numRuns: RUNS / 2 },
    );
  });

  test('WebSocket: the frame decodes to exactly one text message, the envelope of the code', () => {
    const encoder = new WsEncoder();
    fc.assert(
      fc.property(anyCode, (code) => {
        const messages = wsMessages(encoder.encode(codeEvent(code)).bytes);
        assert.equal(messages.length, 1);
        const [message] = messages as [{ text: string; binary: boolean }];
        assert.equal(message.binary, false);
        assert.deepEqual(JSON.parse(message.text), { type: 'code', data: code });
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test("Socket.IO: each namespace's packet, and its pre-built WebSocket frame, decode to exactly one new_code event with the code", () => {
    const encoder = new SocketIoEncoder();
    fc.assert(
      fc.property(anyCode, (code) => {
        const frame = encoder.encode(codeEvent(code));
        assert.ok(frame);
        for (const nsp of NAMESPACES) {
          const encoded: EncodedPacket = frame[nsp];
          assert.equal(encoded.packets.length, 1);
          const packetText = encoded.packets[0];
          assert.equal(typeof packetText, 'string');
          const packets = socketIoPackets(packetText as string);
          assert.equal(packets.length, 1);
          const [packet] = packets as [Packet];
          assert.equal(packet.type, PacketType.EVENT);
          assert.equal(packet.nsp, nsp);
          assert.deepEqual(packet.data, ['new_code', code]);
          // What engine.io writes to WebSocket clients: one frame, "4" (MESSAGE) and the same packet.
          const wsFrame = encoded.options.wsPreEncodedFrame;
          assert.ok(wsFrame && wsFrame.length === 1);
          const messages = wsMessages(wsFrame[0] as Buffer);
          assert.equal(messages.length, 1);
          assert.equal(messages[0]?.binary, false);
          assert.equal(messages[0]?.text, `4${packetText as string}`);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
