// What one connection costs in the JS heap, object by object: a heap
// snapshot of the server before and after N subscribers connect, for the
// bare broadcaster and for codecast, diffed by constructor and divided by N.
//
//   node --import tsx bench/heap-diff.ts [sse|ws|socketio] [N=2000]
//
// Builds nothing: run `npx tsc -p tsconfig.json` first (npm run bench does).
import { WebSocket } from 'ws';
import { ClientPool } from './client-pool.js';
import { specsFor } from './harness.js';
import type { Transport } from './protocol.js';
import { startBare, startCodecast, type Target } from './targets.js';

type Sizes = Map<string, { size: number; count: number }>;

export interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** A full GC, then the heap snapshot as V8 writes it (parsed JSON). */
export async function takeHeapSnapshot(url: string): Promise<HeapSnapshot> {
  const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let id = 0;
  const call = (method: string) =>
    new Promise<void>((resolve) => {
      const mine = ++id;
      const onMessage = (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { id?: number; method?: string; params?: { chunk: string } };
        if (message.method === 'HeapProfiler.addHeapSnapshotChunk') text += message.params?.chunk ?? '';
        if (message.id === mine) {
          socket.off('message', onMessage);
          resolve();
        }
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ id: mine, method, params: {} }));
    });
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.takeHeapSnapshot');
  socket.close();
  return JSON.parse(text) as HeapSnapshot;
}

/** Self size and count by node type and constructor, after a full GC. */
async function snapshot(url: string): Promise<Sizes> {
  const snap = await takeHeapSnapshot(url);
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const out: Sizes = new Map();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + typeAt] as number] as string;
    const named = type === 'object' || type === 'closure' || type === 'native';
    const key = `${type}${named ? `:${snap.strings[snap.nodes[i + nameAt] as number]}` : ''}`;
    const entry = out.get(key) ?? { size: 0, count: 0 };
    entry.size += snap.nodes[i + sizeAt] as number;
    entry.count++;
    out.set(key, entry);
  }
  return out;
}

async function perConnection(target: Target, transport: Transport, n: number): Promise<Sizes> {
  try {
    const url = target.inspectorUrl();
    if (!url) throw new Error(`${target.name} has no inspector`);
    await target.prepare(n);
    const before = await snapshot(url);
    const pool = ClientPool.start(specsFor(target, transport, n), 5000);
    try {
      await pool.open(target.host, target.port, 64, () => undefined);
      const after = await snapshot(url);
      const diff: Sizes = new Map();
      for (const [key, v] of after) {
        const b = before.get(key) ?? { size: 0, count: 0 };
        diff.set(key, { size: (v.size - b.size) / n, count: (v.count - b.count) / n });
      }
      return diff;
    } finally {
      await pool.close();
    }
  } finally {
    await target.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

async function main(): Promise<void> {
  const transport = (process.argv[2] ?? 'ws') as Transport;
  const n = Number(process.argv[3] ?? 2000);
  const bare = await perConnection(await startBare(transport), transport, n);
  const codecast = await perConnection(await startCodecast({ maxConnections: n + 100, perUser: 500 }), transport, n);
  const total = (m: Sizes) => [...m.values()].reduce((sum, v) => sum + v.size, 0);
  console.log(`heap per ${transport} connection, N=${n}: bare ${total(bare).toFixed(0)} B, codecast ${total(codecast).toFixed(0)} B`);
  console.log('   bare B  codecast B   bare objs  codecast objs  what');
  const keys = [...new Set([...bare.keys(), ...codecast.keys()])];
  const delta = (k: string) => Math.abs((codecast.get(k)?.size ?? 0) - (bare.get(k)?.size ?? 0));
  for (const key of keys.sort((a, b) => delta(b) - delta(a)).slice(0, 25)) {
    const b = bare.get(key) ?? { size: 0, count: 0 };
    const c = codecast.get(key) ?? { size: 0, count: 0 };
    console.log(
      `${b.size.toFixed(0).padStart(9)} ${c.size.toFixed(0).padStart(11)} ${b.count.toFixed(2).padStart(11)} ${c.count.toFixed(2).padStart(14)}  ${key}`,
    );
  }
  process.exit(0);
}
