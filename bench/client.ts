// One load-client process of the harness, forked by ClientPool. It opens its
// share of the subscribers over raw TCP — the SSE request, the WebSocket
// handshake and frames, engine.io/Socket.IO over WebSocket, written by hand —
// so that the clients cost as little CPU as possible on a machine they share
// with the server. A subscriber is *connected* once its first `hello` arrives
// (codecast sends it once the connection is registered; the bare servers send
// one too). Codes are found by their marker `BENCH-<k>` in whatever the
// transport delivers, and the receive time is stamped with the machine-wide
// monotonic clock the publisher uses (measure.ts `now`).
import { connect, type Socket } from 'node:net';
import { now } from './measure.js';
import type { ClientMessage, ParentMessage, SubscriberSpec } from './protocol.js';

const MARKER = 'BENCH-';
const HANDSHAKE_TIMEOUT_MS = 60_000;
const WS_KEY = 'Y29kZWNhc3QtYmVuY2gtMQ=='; // any 16 bytes, base64

interface Subscriber {
  readonly index: number;
  readonly spec: SubscriberSpec;
  socket: Socket | undefined;
  /** 0 connecting, 1 upgraded (frames follow), 2 connected (hello seen), 3 ended. */
  state: 0 | 1 | 2 | 3;
  pending: Buffer | undefined;
  tail: string;
  timer: NodeJS.Timeout | undefined;
}

let host = '127.0.0.1';
let port = 0;
const subscribers: Subscriber[] = [];
let connected = 0;
let failed = 0;
let ended = 0;
const errors = new Map<string, number>();
const closeReasons = new Map<string, number>();
/** Receive time per code, per local subscriber (0: not received). */
const received = new Map<number, Float64Array>();
const receivedCount = new Map<number, number>();
/** Codes already handed to the parent; a late or repeated marker of one is ignored. */
const finished = new Set<number>();
let onOpened: (() => void) | undefined;
let queue = 0;
let inFlight = 0;
let concurrency = 64;

const send = (message: ClientMessage) => process.send?.(message);

function note(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** A masked client frame (RFC 6455 §5.3); a zero masking key leaves the payload as it is. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
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

const PONG_ENGINE_IO = clientFrame(0x1, Buffer.from('3'));

/** Records the codes whose markers `text` holds; answers where the last complete one ended. */
function record(sub: Subscriber, text: string, at: number): number {
  let scanned = 0;
  let i = text.indexOf(MARKER);
  while (i !== -1) {
    let j = i + MARKER.length;
    let k = 0;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (c < 48 || c > 57) break;
      k = k * 10 + (c - 48);
      j++;
    }
    // A marker cut off by the end of a read is found again in the next one.
    if (j < text.length && j > i + MARKER.length && !finished.has(k)) {
      scanned = j;
      let times = received.get(k);
      if (!times) received.set(k, (times = new Float64Array(subscribers.length)));
      if (times[sub.index] === 0) {
        times[sub.index] = at;
        const count = (receivedCount.get(k) ?? 0) + 1;
        receivedCount.set(k, count);
        if (count === connected - ended) finishCode(k);
      }
    }
    i = text.indexOf(MARKER, j);
  }
  return scanned;
}

function finishCode(k: number): void {
  const times = received.get(k);
  if (!times) return;
  received.delete(k);
  receivedCount.delete(k);
  finished.add(k);
  send({ type: 'code', code: k, times, complete: true });
}

function ready(sub: Subscriber): void {
  if (sub.state === 2) return;
  sub.state = 2;
  if (sub.timer) clearTimeout(sub.timer);
  sub.timer = undefined;
  connected++;
  handshakeDone();
}

function fail(sub: Subscriber, why: string): void {
  if (sub.state === 3) return;
  const wasConnected = sub.state === 2;
  sub.state = 3;
  if (sub.timer) clearTimeout(sub.timer);
  sub.socket?.destroy();
  if (wasConnected) {
    ended++;
    note(closeReasons, why);
  } else {
    failed++;
    note(errors, why);
    handshakeDone();
  }
}

function handshakeDone(): void {
  inFlight--;
  pump();
  if ((connected + failed) % 1000 === 0) send({ type: 'progress', connected, failed });
  if (connected + failed === subscribers.length) onOpened?.();
}

/**
 * Text of a payload; latin1 keeps one char per byte, which is all the marker
 * search needs. Answers where the last complete marker ended.
 */
function onText(sub: Subscriber, text: string, at: number): number {
  if (sub.state !== 2) {
    if (text.includes('hello')) ready(sub);
    return text.length;
  }
  return record(sub, text, at);
}

function onSseData(sub: Subscriber, chunk: Buffer, at: number): void {
  let text = chunk.toString('latin1');
  if (sub.state === 0) {
    if (!text.startsWith('HTTP/1.1 200')) {
      fail(sub, `sse ${text.slice(0, text.indexOf('\r\n'))} ${text.slice(text.indexOf('\r\n\r\n') + 4, 200)}`.trim());
      return;
    }
    sub.state = 1;
  }
  if (sub.tail !== '') text = sub.tail + text;
  // A read may end inside a marker: keep what could be its start.
  const scanned = onText(sub, text, at);
  sub.tail = text.slice(Math.max(scanned, text.length - 24));
}

function onWsData(sub: Subscriber, chunk: Buffer, at: number): void {
  const buf = sub.pending === undefined ? chunk : Buffer.concat([sub.pending, chunk]);
  let offset = 0;
  if (sub.state === 0) {
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) {
      sub.pending = buf;
      return;
    }
    const head = buf.toString('latin1', 0, end);
    if (!head.startsWith('HTTP/1.1 101')) {
      fail(sub, `${sub.spec.transport} ${head.slice(0, head.indexOf('\r\n'))}`);
      return;
    }
    sub.state = 1;
    offset = end + 4;
  }
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
    onWsFrame(sub, b0 & 0x0f, payload, at);
    if (sub.state === 3) return;
  }
  sub.pending = offset < buf.length ? buf.subarray(offset) : undefined;
}

function onWsFrame(sub: Subscriber, opcode: number, payload: Buffer, at: number): void {
  switch (opcode) {
    case 0x0:
    case 0x1:
      if (sub.spec.transport === 'socketio') onEnginePacket(sub, payload, at);
      else onText(sub, payload.toString('latin1'), at);
      return;
    case 0x8: {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      fail(sub, `ws close ${code} ${payload.toString('utf8', 2)}`.trim());
      return;
    }
    case 0x9:
      sub.socket?.write(clientFrame(0xa, payload));
      return;
    default:
      return;
  }
}

/** engine.io packets over WebSocket: 0 open, 2 ping, 4 message (a Socket.IO packet), 1 close. */
function onEnginePacket(sub: Subscriber, payload: Buffer, at: number): void {
  const type = payload[0];
  if (type === 0x32 /* 2 ping */) {
    sub.socket?.write(PONG_ENGINE_IO);
  } else if (type === 0x30 /* 0 open */) {
    const nsp = sub.spec.namespace === '/events' ? '/events,' : '';
    const auth = sub.spec.token === undefined ? '' : JSON.stringify({ token: sub.spec.token });
    sub.socket?.write(clientFrame(0x1, Buffer.from(`40${nsp}${auth}`)));
  } else if (type === 0x34 /* 4 message */) {
    const kind = payload[1];
    const text = payload.toString('latin1');
    if (kind === 0x34 /* 4 connect_error */) fail(sub, `socketio connect_error ${text.slice(2, 160)}`);
    else if (kind === 0x31 /* 1 disconnect */) fail(sub, 'socketio disconnect');
    else if (kind === 0x32 /* 2 event */) {
      if (sub.state === 2 && text.includes('"closing"')) note(closeReasons, `socketio ${text.slice(2, 120)}`);
      onText(sub, text, at);
    }
  } else if (type === 0x31 /* 1 close */) {
    fail(sub, 'engine.io close');
  }
}

function open(sub: Subscriber): void {
  const { spec } = sub;
  const socket = connect({ host, port });
  sub.socket = socket;
  socket.setNoDelay(true);
  sub.timer = setTimeout(() => fail(sub, 'handshake timeout'), HANDSHAKE_TIMEOUT_MS);
  socket.on('connect', () => {
    const authorization = spec.transport === 'socketio' || spec.token === undefined ? '' : `Authorization: Bearer ${spec.token}\r\n`;
    if (spec.transport === 'sse') {
      socket.write(`GET ${spec.path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n${authorization}\r\n`);
    } else {
      socket.write(
        `GET ${spec.path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n${authorization}\r\n`,
      );
    }
  });
  const onData = spec.transport === 'sse' ? onSseData : onWsData;
  socket.on('data', (chunk: Buffer) => onData(sub, chunk, now()));
  socket.on('error', (error: NodeJS.ErrnoException) => fail(sub, `socket ${error.code ?? error.message}`));
  socket.on('close', () => fail(sub, sub.state === 2 ? 'closed by server' : 'closed before hello'));
}

function pump(): void {
  while (inFlight < concurrency && queue < subscribers.length) {
    inFlight++;
    open(subscribers[queue++] as Subscriber);
  }
}

function flush(codes: readonly number[] | 'all'): void {
  const which = codes === 'all' ? [...received.keys()] : codes;
  for (const k of which) {
    if (finished.has(k)) continue;
    const times = received.get(k) ?? new Float64Array(subscribers.length);
    received.delete(k);
    receivedCount.delete(k);
    finished.add(k);
    send({ type: 'code', code: k, times, complete: false });
  }
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'open': {
      // Several opens may follow one another; each adds subscribers.
      host = message.host;
      port = message.port;
      concurrency = message.concurrency;
      for (const spec of message.subscribers) {
        subscribers.push({ index: subscribers.length, spec, socket: undefined, state: 0, pending: undefined, tail: '', timer: undefined });
      }
      const started = now();
      onOpened = () => {
        onOpened = undefined;
        send({ type: 'opened', connected, failed, ms: now() - started, errors: Object.fromEntries(errors) });
      };
      if (connected + failed === subscribers.length) onOpened();
      pump();
      return;
    }
    case 'flush':
      flush(message.codes);
      send({ type: 'flushed', closes: Object.fromEntries(closeReasons), open: connected - ended });
      return;
    case 'status':
      send({ type: 'status', open: connected - ended, closes: Object.fromEntries(closeReasons), pending: received.size });
      return;
    case 'close':
      for (const sub of subscribers) {
        sub.state = 3;
        if (sub.timer) clearTimeout(sub.timer);
        sub.socket?.destroy();
      }
      process.disconnect?.();
      return;
  }
});
process.on('disconnect', () => process.exit(0));
