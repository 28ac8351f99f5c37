// The hostile client of the attack mode (attack.ts), a process of its own so
// that flooding as fast as it can takes none of the harness's time. It
// reports what happened to it, whatever that is: how much it sent, what the
// server refused, and whether and when the server cut it off.
//
//   ack-ws        one WebSocket subscriber that floods {"type":"ack","id":N}
//   ack-socketio  one Socket.IO subscriber that floods emit('ack', N, cb)
//   handshakes    engine.io WebSocket sessions that never join a namespace
//   upgrades      WebSocket upgrade requests whose headers never end (no token yet)
//   sse           SSE requests whose headers never end (no token yet)
//
// The ack floods cycle through the ids of the codes the attacker itself
// receives, so every ack names a real code; a cut-off attacker comes back at
// once (and is counted again). The holding variants keep up to `maxHeld`
// connections open (under the 20,000 open files a process may have),
// `concurrency` attempts in flight, and answer engine.io's pings so that
// only a defence ends them.
import { connect, type Socket } from 'node:net';
import { now } from './measure.js';
import { clientFrame, numberAfter, PONG_ENGINE_IO, readFrames, upgradeRequest } from './ws-frames.js';

export const ATTACKS = ['ack-ws', 'ack-socketio', 'handshakes', 'upgrades', 'sse'] as const;
export type Attack = (typeof ATTACKS)[number];

export interface AttackerStart {
  readonly type: 'start';
  readonly attack: Attack;
  readonly host: string;
  readonly port: number;
  /** The address the attacker connects from (its own, as a real attacker's would be). */
  readonly localAddress: string | undefined;
  /** A user's token (the ack floods; the holding variants never authenticate). */
  readonly token: string;
  readonly seconds: number;
  readonly maxHeld: number;
  readonly concurrency: number;
}

export interface AttackerReport {
  readonly attack: Attack;
  readonly seconds: number;
  /** Acks written to the socket (floods) or connection attempts (holding variants). */
  readonly sent: number;
  /** Floods: sessions that got to flood; holding variants: attempts that got as far as they could (engine.io open, TCP up). */
  readonly established: number;
  /** Floods: error frames or ack answers received. */
  readonly answers: number;
  readonly peakHeld: number;
  /** Attempts the server turned away before they were established, by reason. */
  readonly refused: Record<string, number>;
  /** Established connections the server ended, by reason (close code and reason, engine.io close, HTTP status…). */
  readonly cut: Record<string, number>;
  /** When the server first ended an established connection, in ms from the start of the attack; null: never. */
  readonly firstCutMs: number | null;
  /** How long cut connections had lived, median and longest (ms). */
  readonly cutLifetimeMs: { readonly p50: number | null; readonly max: number | null };
  /** Per second: sent, held, cut and refused so far. */
  readonly timeline: readonly {
    readonly atS: number;
    readonly sent: number;
    readonly held: number;
    readonly cut: number;
    readonly refused: number;
  }[];
}

export type AttackerMessage =
  | { readonly type: 'progress'; readonly line: string }
  | { readonly type: 'report'; readonly report: AttackerReport };

interface Held {
  readonly socket: Socket;
  readonly openedAt: number;
  established: boolean;
  /** Bytes of an unfinished HTTP head or WebSocket frame. */
  pending: Buffer | undefined;
  upgraded: boolean;
  /** Floods: the Socket.IO namespace joined (or the WebSocket open) and flooding. */
  flooding: boolean;
  ended: boolean;
  /** Socket.IO: the reason a `closing` event gave, told with the close that follows. */
  closing: string | undefined;
}

const send = (message: AttackerMessage) => process.send?.(message);

let started = 0;
let stopped = false;
let sent = 0;
let establishedCount = 0;
let answers = 0;
let held = 0;
let peakHeld = 0;
let inFlight = 0;
let cutTotal = 0;
let refusedTotal = 0;
let firstCutMs: number | null = null;
const refused = new Map<string, number>();
const cut = new Map<string, number>();
const lifetimes: number[] = [];
const open = new Set<Held>();
let maxId = 0;
let nextId = 1;

function note(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The end of one attacker connection, as the server made it (or the attack's own end). */
function end(h: Held, why: string): void {
  if (h.ended) return;
  h.ended = true;
  open.delete(h);
  h.socket.removeAllListeners('data');
  h.socket.destroy();
  if (stopped) return;
  if (h.established) {
    held--;
    cutTotal++;
    note(cut, h.closing === undefined ? why : `${h.closing}, then ${why}`);
    const at = now();
    lifetimes.push(at - h.openedAt);
    if (firstCutMs === null) firstCutMs = Math.round(at - started);
  } else {
    inFlight--;
    refusedTotal++;
    note(refused, why);
  }
}

function established(h: Held): void {
  if (h.established) return;
  h.established = true;
  establishedCount++;
  inFlight--;
  held++;
  peakHeld = Math.max(peakHeld, held);
}

/** Ack frames for the next `count` ids, cycling through the codes seen so far. */
function ackBatch(attack: Attack, count: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const id = nextId;
    nextId = nextId >= Math.max(1, maxId) ? 1 : nextId + 1;
    const text = attack === 'ack-ws' ? `{"type":"ack","id":${id}}` : `421["ack",${id}]`;
    frames.push(clientFrame(0x1, Buffer.from(text)));
  }
  return Buffer.concat(frames);
}

function flood(h: Held, attack: Attack): void {
  while (!stopped && !h.ended) {
    const ok = h.socket.write(ackBatch(attack, 100));
    sent += 100;
    if (!ok) {
      h.socket.once('drain', () => flood(h, attack));
      return;
    }
  }
}

function onText(h: Held, start: AttackerStart, text: string): void {
  const { attack } = start;
  if (attack === 'ack-ws') {
    if (text.startsWith('{"type":"hello"')) {
      maxId = Math.max(maxId, numberAfter(text, '"lastId":') ?? 0);
      established(h);
      h.flooding = true;
      flood(h, attack);
    } else if (text.startsWith('{"type":"code"')) {
      maxId = Math.max(maxId, numberAfter(text, '"id":') ?? 0);
    } else if (text.startsWith('{"type":"error"')) {
      answers++;
    }
    return;
  }
  // engine.io over WebSocket
  const type = text.charCodeAt(0);
  if (type === 0x32 /* 2 ping */) {
    h.socket.write(PONG_ENGINE_IO);
  } else if (type === 0x30 /* 0 open */) {
    if (attack === 'handshakes') established(h);
    else h.socket.write(clientFrame(0x1, Buffer.from(`40${JSON.stringify({ token: start.token })}`)));
  } else if (type === 0x31 /* 1 close */) {
    end(h, 'engine.io close');
  } else if (type === 0x34 /* 4 message */) {
    const kind = text[1];
    if (kind === '0' && !h.flooding && attack === 'ack-socketio') {
      established(h);
      h.flooding = true;
      flood(h, attack);
    } else if (kind === '4') {
      end(h, `socketio connect_error ${text.slice(2, 120)}`);
    } else if (kind === '1') {
      end(h, 'socketio disconnect');
    } else if (kind === '3') {
      answers++;
    } else if (kind === '2') {
      if (text.includes('["new_code"')) maxId = Math.max(maxId, numberAfter(text, '"id":') ?? 0);
      else if (text.includes('["hello"')) maxId = Math.max(maxId, numberAfter(text, '"lastId":') ?? 0);
      else if (text.includes('["closing"')) h.closing = `socketio ${text.slice(2, 120)}`;
    }
  }
}

function onData(h: Held, start: AttackerStart, chunk: Buffer): void {
  const buf = h.pending === undefined ? chunk : Buffer.concat([h.pending, chunk]);
  h.pending = undefined;
  let offset = 0;
  if (!h.upgraded) {
    const headEnd = buf.indexOf('\r\n\r\n');
    if (headEnd === -1) {
      h.pending = buf;
      return;
    }
    const statusLine = buf.toString('latin1', 0, buf.indexOf('\r\n'));
    if (start.attack === 'upgrades' || start.attack === 'sse' || !statusLine.startsWith('HTTP/1.1 101')) {
      // The server answered a request it was never meant to be able to answer, or refused the upgrade.
      end(h, `http ${statusLine.slice(9, 40)}`);
      return;
    }
    h.upgraded = true;
    offset = headEnd + 4;
  }
  offset = readFrames(buf, offset, (opcode, payload) => {
    if (opcode === 0x1 || opcode === 0x0) onText(h, start, payload.toString('latin1'));
    else if (opcode === 0x8) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      end(h, `ws close ${code} ${payload.toString('utf8', 2)}`.trim());
    } else if (opcode === 0x9) h.socket.write(clientFrame(0xa, payload));
    return !h.ended;
  });
  if (!h.ended && offset < buf.length) h.pending = buf.subarray(offset);
}

function attempt(start: AttackerStart): void {
  const { attack, host, port, localAddress } = start;
  inFlight++;
  if (attack !== 'ack-ws' && attack !== 'ack-socketio') sent++;
  const socket = connect({ host, port, localAddress });
  const h: Held = {
    socket,
    openedAt: now(),
    established: false,
    pending: undefined,
    upgraded: false,
    flooding: false,
    ended: false,
    closing: undefined,
  };
  open.add(h);
  socket.setNoDelay(true);
  socket.on('connect', () => {
    switch (attack) {
      case 'ack-ws':
        socket.write(upgradeRequest(host, port, '/api/v1/ws', `Authorization: Bearer ${start.token}\r\n`));
        return;
      case 'ack-socketio':
      case 'handshakes':
        socket.write(upgradeRequest(host, port, '/socket.io/?EIO=4&transport=websocket'));
        return;
      case 'upgrades':
        // Headers that never end: the server cannot yet know who this is.
        socket.write(`GET /api/v1/ws HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
        established(h);
        return;
      case 'sse':
        socket.write(`GET /api/v1/stream HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n`);
        established(h);
        return;
    }
  });
  socket.on('data', (chunk: Buffer) => onData(h, start, chunk));
  socket.on('error', (error: NodeJS.ErrnoException) => end(h, `socket ${error.code ?? error.message}`));
  socket.on('close', () => end(h, h.established ? 'closed by server' : 'closed before established'));
}

/** Keeps the attempts going: one flooding connection, or as many held ones as allowed. */
function topUp(start: AttackerStart): void {
  if (stopped) return;
  const flooding = start.attack === 'ack-ws' || start.attack === 'ack-socketio';
  const want = flooding ? 1 : start.maxHeld;
  const inFlightCap = flooding ? 1 : start.concurrency;
  while (held + inFlight < want && inFlight < inFlightCap) attempt(start);
}

process.on('message', (message: AttackerStart | { type: 'stop' }) => {
  if (message.type === 'stop') {
    stopped = true;
    return;
  }
  const start = message;
  started = now();
  const timeline: { atS: number; sent: number; held: number; cut: number; refused: number }[] = [];
  // Checked often: a cut connection is replaced at once.
  const refill = setInterval(() => topUp(start), 5);
  const ticker = setInterval(() => {
    const atS = Math.round((now() - started) / 1000);
    timeline.push({ atS, sent, held, cut: cutTotal, refused: refusedTotal });
    send({
      type: 'progress',
      line: `attacker ${start.attack}: ${atS} s, sent ${sent}, held ${held}, cut ${cutTotal}, refused ${refusedTotal}, answers ${answers}`,
    });
  }, 1000);
  topUp(start);
  setTimeout(() => {
    stopped = true;
    clearInterval(refill);
    clearInterval(ticker);
    for (const h of open) {
      h.ended = true;
      h.socket.destroy();
    }
    open.clear();
    const sorted = lifetimes.sort((a, b) => a - b);
    send({
      type: 'report',
      report: {
        attack: start.attack,
        seconds: start.seconds,
        sent,
        established: establishedCount,
        answers,
        peakHeld,
        refused: Object.fromEntries(refused),
        cut: Object.fromEntries(cut),
        firstCutMs,
        cutLifetimeMs: {
          p50: sorted.length ? Math.round(sorted[Math.floor((sorted.length - 1) / 2)] as number) : null,
          max: sorted.length ? Math.round(sorted[sorted.length - 1] as number) : null,
        },
        timeline,
      },
    });
  }, start.seconds * 1000);
});
process.on('disconnect', () => process.exit(0));
