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
import { clientFrame, numberAfter, PONG_ENGINE_IO, readFrames, upgradeRequest } from './ws-frames.js';

const MARKER = 'BENCH-';
const HANDSHAKE_TIMEOUT_MS = 60_000;

interface Subscriber {
  readonly index: number;
  readonly spec: SubscriberSpec;
  socket: Socket | undefined;
  /** 0 connecting, 1 upgraded (frames follow), 2 connected (hello seen), 3 ended. */
  state: 0 | 1 | 2 | 3;
  pending: Buffer | undefined;
  tail: string;
  timer: NodeJS.Timeout | undefined;
  /** Soak mode: the last code id seen (-1: no hello yet), and whether it is coming back after a cut. */
  lastId: number;
  reopening: boolean;
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
/**
 * What the subscribers look for: the `BENCH-<k>` markers and their receive
 * times (bursts, sustained, attack), or code ids (soak): every subscriber
 * checks that ids follow one another without gap or repeat across its
 * reconnections, which costs a few integers per subscriber however long
 * the run.
 */
let track: 'markers' | 'ids' = 'markers';
let stopping = false;
const soak = { lost: 0, duplicated: 0, resets: 0, reconnects: 0, churned: 0 };
const reopenErrors = new Map<string, number>();
let churnCursor = 0;
let churnCarry = 0;
/** A subscriber cut by the server (or refused on its way back) tries again after this. */
const RETRY_MS = 1000;

const send = (message: ClientMessage) => process.send?.(message);

function note(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

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
      if (!times) {
        times = new Float64Array(subscribers.length);
        received.set(k, times);
      }
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
  if (sub.reopening) {
    sub.reopening = false;
    soak.reconnects++;
    return;
  }
  connected++;
  handshakeDone();
}

function fail(sub: Subscriber, why: string): void {
  if (sub.state === 3) return;
  const wasConnected = sub.state === 2;
  if (track === 'ids' && (wasConnected || sub.reopening)) {
    // Soak: a real client comes back with its last id, and so does this one.
    note(wasConnected ? closeReasons : reopenErrors, why);
    reopen(sub, RETRY_MS);
    return;
  }
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
  if (track === 'ids') {
    onEvent(sub, text);
    return text.length;
  }
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
    if (track === 'ids') text = text.slice(text.indexOf('\r\n\r\n') + 4);
  }
  if (sub.tail !== '') text = sub.tail + text;
  if (track === 'ids') {
    // Whole events only: the rest waits for the next read.
    const end = text.lastIndexOf('\n\n');
    if (end === -1) {
      sub.tail = text;
      return;
    }
    sub.tail = text.slice(end + 2);
    const socket = sub.socket;
    for (const event of text.slice(0, end).split('\n\n')) {
      onEvent(sub, event);
      if (sub.socket !== socket) return; // cut and coming back on another socket
    }
    return;
  }
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
  const socket = sub.socket;
  offset = readFrames(buf, offset, (opcode, payload) => {
    onWsFrame(sub, opcode, payload, at);
    // Ended, or (soak) cut and reopening on another socket.
    return sub.state !== 3 && sub.socket === socket;
  });
  if (sub.state === 3 || sub.socket !== socket) return;
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
    const since = sub.lastId >= 0 ? { since: sub.lastId } : {};
    const auth = sub.spec.token === undefined ? '' : JSON.stringify({ token: sub.spec.token, ...since });
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
  // A cluster run spreads subscribers over the nodes: each spec may name its node's port.
  const portOf = spec.port ?? port;
  const socket = connect({ host, port: portOf });
  sub.socket = socket;
  socket.setNoDelay(true);
  sub.timer = setTimeout(() => fail(sub, 'handshake timeout'), HANDSHAKE_TIMEOUT_MS);
  // Coming back (soak): resume after the last id seen (Socket.IO sends it in auth).
  const path =
    sub.lastId >= 0 && spec.transport !== 'socketio' ? `${spec.path}${spec.path.includes('?') ? '&' : '?'}since=${sub.lastId}` : spec.path;
  socket.on('connect', () => {
    const authorization = spec.transport === 'socketio' || spec.token === undefined ? '' : `Authorization: Bearer ${spec.token}\r\n`;
    if (spec.transport === 'sse') {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${portOf}\r\nAccept: text/event-stream\r\n${authorization}\r\n`);
    } else {
      socket.write(upgradeRequest(host, portOf, path, authorization));
    }
  });
  const onData = spec.transport === 'sse' ? onSseData : onWsData;
  socket.on('data', (chunk: Buffer) => onData(sub, chunk, now()));
  socket.on('error', (error: NodeJS.ErrnoException) => fail(sub, `socket ${error.code ?? error.message}`));
  socket.on('close', () => fail(sub, sub.state === 2 ? 'closed by server' : 'closed before hello'));
}

/**
 * Soak mode: one event (an SSE event, a WebSocket text frame or a Socket.IO
 * packet). A code id must be the one after the last id seen: a larger one
 * means codes were lost in between, a smaller or equal one a repeat.
 */
function onEvent(sub: Subscriber, text: string): void {
  let name: string;
  if (text.startsWith('{"type":"')) {
    name = text.slice(9, text.indexOf('"', 9));
  } else if (text.startsWith('42')) {
    const b = text.indexOf('["');
    if (b === -1) return;
    name = text.slice(b + 2, text.indexOf('"', b + 2));
  } else {
    const e = text.indexOf('event: ');
    if (e === -1) return;
    const end = text.indexOf('\n', e);
    name = text.slice(e + 7, end === -1 ? undefined : end);
  }
  switch (name) {
    case 'hello':
      // A first connection starts live, after the server's last id; one coming back asked for what followed its own.
      if (sub.lastId < 0) sub.lastId = numberAfter(text, '"lastId":') ?? 0;
      ready(sub);
      return;
    case 'code':
    case 'new_code': {
      const id = numberAfter(text, '"id":');
      if (sub.state !== 2 || id === null) return;
      if (id <= sub.lastId) {
        soak.duplicated++;
        return;
      }
      soak.lost += id - sub.lastId - 1;
      sub.lastId = id;
      return;
    }
    case 'reset':
      soak.resets++;
      return;
  }
}

/** Soak mode: drops the connection and comes back after `delayMs` with the last id seen. */
function reopen(sub: Subscriber, delayMs: number): void {
  const socket = sub.socket;
  if (socket) {
    socket.removeAllListeners();
    socket.on('error', () => undefined);
    socket.destroy();
  }
  sub.socket = undefined;
  if (sub.timer) clearTimeout(sub.timer);
  sub.pending = undefined;
  sub.tail = '';
  if (stopping) {
    sub.state = 3;
    return;
  }
  sub.state = 0;
  sub.reopening = true;
  sub.timer = setTimeout(() => {
    sub.timer = undefined;
    if (!stopping) open(sub);
  }, delayMs);
}

/** Soak mode: cuts `fraction` of the connected subscribers, in turn, spread over `spreadMs`. */
function churn(fraction: number, spreadMs: number, pauseMs: number): void {
  const want = subscribers.length * fraction + churnCarry;
  const n = Math.floor(want);
  churnCarry = want - n;
  const picked: Subscriber[] = [];
  for (let scanned = 0; picked.length < n && scanned < subscribers.length; scanned++) {
    const sub = subscribers[churnCursor] as Subscriber;
    churnCursor = (churnCursor + 1) % subscribers.length;
    if (sub.state === 2) picked.push(sub);
  }
  picked.forEach((sub, i) => {
    setTimeout(
      () => {
        if (sub.state !== 2 || stopping) return;
        soak.churned++;
        reopen(sub, pauseMs);
      },
      (spreadMs * i) / picked.length,
    );
  });
}

function tally(upTo: number | undefined): void {
  let open = 0;
  let reopening = 0;
  let behind = 0;
  let behindSubscribers = 0;
  for (const sub of subscribers) {
    if (sub.state === 2) open++;
    if (sub.reopening) reopening++;
    if (upTo !== undefined && sub.lastId >= 0 && sub.lastId < upTo) {
      behind += upTo - sub.lastId;
      behindSubscribers++;
    }
  }
  send({
    type: 'tally',
    subscribers: subscribers.length,
    open,
    reopening,
    ...soak,
    behind,
    behindSubscribers,
    closes: Object.fromEntries(closeReasons),
    reopenErrors: Object.fromEntries(reopenErrors),
  });
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
      track = message.track ?? 'markers';
      for (const spec of message.subscribers) {
        subscribers.push({
          index: subscribers.length,
          spec,
          socket: undefined,
          state: 0,
          pending: undefined,
          tail: '',
          timer: undefined,
          lastId: -1,
          reopening: false,
        });
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
    case 'churn':
      churn(message.fraction, message.spreadMs, message.pauseMs);
      return;
    case 'tally':
      tally(message.upTo);
      return;
    case 'close':
      stopping = true;
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
