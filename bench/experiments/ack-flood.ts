// Issue 9's ack flood, measured as the issue measured it: while one user
// floods acks over WebSocket (PARALLEL connections, each reconnecting as soon
// as it is cut), an admin publishes a code every 100 ms and reads /healthz;
// prints publish and /healthz times, RSS and the statements run. Server and
// clients share one process, so the times include the attacker's own work.
//   SECONDS=10 PARALLEL=1 node --import tsx bench/experiments/ack-flood.ts
import WebSocket from 'ws';
import { startTestServer } from '../../test/support/server.js';

const SECONDS = Number(process.env.SECONDS ?? 10);
const PARALLEL = Number(process.env.PARALLEL ?? 1);
const t = await startTestServer({ CODECAST_MAX_CONNECTIONS_PER_USER: '20' });
const attacker = await t.createUser('attacker');
const ordinary = await t.createUser('ordinary');
const watcher = new WebSocket(`${t.url.replace('http', 'ws')}/api/v1/ws?token=${ordinary.token}`);
let received = 0;
watcher.on('message', (m) => {
  if (JSON.parse(m.toString()).type === 'code') received++;
});
await new Promise((r) => watcher.once('open', r));
const { id } = await t.publish('TARGET');
const rss0 = process.memoryUsage().rss;
const q0 = t.server.store.queryCount;
const sockets = new Set<WebSocket>();
let stop = false,
  cut = 0,
  sent = 0;
async function attack(): Promise<void> {
  while (!stop) {
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/v1/ws?token=${attacker.token}`);
    sockets.add(ws);
    ws.on('error', () => undefined);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await new Promise((r) => {
      ws.once('open', r);
      ws.once('close', r);
    });
    const frame = JSON.stringify({ type: 'ack', id });
    while (!stop && ws.readyState === WebSocket.OPEN) {
      for (let i = 0; i < 500; i++) {
        ws.send(frame);
        sent++;
      }
      await new Promise((r) => setImmediate(r));
    }
    if ((await closed) === 4429) cut++;
  }
}
const attackers = Array.from({ length: PARALLEL }, attack);
const publishMs: number[] = [],
  healthMs: number[] = [];
let rssMax = rss0,
  published = 0;
const end = Date.now() + SECONDS * 1000;
while (Date.now() < end) {
  let t0 = performance.now();
  await t.publish(`P-${published++}`);
  publishMs.push(performance.now() - t0);
  t0 = performance.now();
  await fetch(`${t.url}/healthz`);
  healthMs.push(performance.now() - t0);
  rssMax = Math.max(rssMax, process.memoryUsage().rss);
  await new Promise((r) => setTimeout(r, 100));
}
stop = true;
for (const ws of sockets) ws.terminate();
await Promise.all(attackers);
await new Promise((r) => setTimeout(r, 500));
const pct = (a: number[], p: number) => (a.sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))] ?? NaN).toFixed(1);
console.log(
  JSON.stringify({
    seconds: SECONDS,
    parallelAttackers: PARALLEL,
    acksSent: sent,
    attackerCuts4429: cut,
    publishMs: { p50: pct(publishMs, 0.5), p99: pct(publishMs, 0.99), max: pct(publishMs, 1) },
    healthzMs: { p50: pct(healthMs, 0.5), max: pct(healthMs, 1) },
    published,
    receivedByOrdinary: received,
    rssMB: { before: (rss0 / 1e6).toFixed(0), max: (rssMax / 1e6).toFixed(0) },
    statementsDuringFlood: t.server.store.queryCount - q0,
  }),
);
watcher.close();
await t.stop();
