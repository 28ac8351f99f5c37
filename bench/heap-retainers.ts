// Who holds what one connection costs: a heap snapshot of codecast with N
// subscribers connected, and for every kind of object there are about N or
// more of, the kind of object and the edge that hold it, so a per-connection
// array or closure can be traced to the code that made it.
//
//   node --import tsx bench/heap-retainers.ts [sse|ws|socketio] [N=2000] [KIND|"STRING PREFIX"]
//
// With a third argument, also prints the retainer chains of a few objects of
// that kind (as listed, e.g. "object:Object") or of strings starting with it.
//
// Builds nothing: run `npx tsc -p tsconfig.json` first (npm run bench does).
import { ClientPool } from './client-pool.js';
import { specsFor } from './harness.js';
import { takeHeapSnapshot } from './heap-diff.js';
import type { Transport } from './protocol.js';
import { startCodecast } from './targets.js';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function describeRetainers(snap: Snapshot, n: number): void {
  const nf = snap.snapshot.meta.node_fields;
  const ef = snap.snapshot.meta.edge_fields;
  const nodeTypes = snap.snapshot.meta.node_types[0];
  const edgeTypes = snap.snapshot.meta.edge_types[0];
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) => nf.indexOf(f)) as [
    number,
    number,
    number,
    number,
  ];
  const [eTypeAt, eNameAt, eToAt] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f)) as [number, number, number];
  const kind = (i: number) => {
    const type = nodeTypes[snap.nodes[i + typeAt] as number] as string;
    const named = type === 'object' || type === 'closure' || type === 'native';
    return `${type}${named ? `:${snap.strings[snap.nodes[i + nameAt] as number]}` : ''}`;
  };
  // Strongest non-weak retainer by kind: count and bytes by (retained kind ← holder kind . edge).
  const held = new Map<string, { count: number; size: number }>();
  let edge = 0;
  for (let i = 0; i < snap.nodes.length; i += nf.length) {
    const edges = snap.nodes[i + edgeCountAt] as number;
    const holder = kind(i);
    for (let e = 0; e < edges; e++, edge += ef.length) {
      const type = edgeTypes[snap.edges[edge + eTypeAt] as number] as string;
      if (type === 'weak' || type === 'shortcut') continue;
      const nameOrIndex = snap.edges[edge + eNameAt] as number;
      const name = type === 'element' || type === 'hidden' ? `[${type}]` : snap.strings[nameOrIndex];
      const to = snap.edges[edge + eToAt] as number;
      const key = `${kind(to)}  <-  ${holder} .${name}`;
      const entry = held.get(key) ?? { count: 0, size: 0 };
      entry.count++;
      entry.size += snap.nodes[to + sizeAt] as number;
      held.set(key, entry);
    }
  }
  const rows = [...held].filter(([, v]) => v.count >= n * 0.9).sort((a, b) => b[1].size - a[1].size);
  console.log(`references held about once per connection or more (N=${n}): B/conn  refs/conn  what <- holder .edge`);
  for (const [key, v] of rows.slice(0, 80)) {
    console.log(`${(v.size / n).toFixed(0).padStart(7)} ${(v.count / n).toFixed(2).padStart(9)}  ${key}`);
  }
}

/** Retainer chains (holder .edge, up to `depth` steps) of a few nodes matching `what`. */
function chainsOf(snap: Snapshot, what: string, samples = 12, depth = 2): void {
  const nf = snap.snapshot.meta.node_fields;
  const ef = snap.snapshot.meta.edge_fields;
  const nodeTypes = snap.snapshot.meta.node_types[0];
  const edgeTypes = snap.snapshot.meta.edge_types[0];
  const [typeAt, nameAt, edgeCountAt] = ['type', 'name', 'edge_count'].map((f) => nf.indexOf(f)) as [number, number, number];
  const [eTypeAt, eNameAt, eToAt] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f)) as [number, number, number];
  const type = (i: number) => nodeTypes[snap.nodes[i + typeAt] as number] as string;
  const name = (i: number) => snap.strings[snap.nodes[i + nameAt] as number] as string;
  const kind = (i: number) => {
    const t = type(i);
    return t === 'object' || t === 'closure' || t === 'native' ? `${t}:${name(i)}` : t;
  };
  const parents = new Map<number, { from: number; edge: string }[]>();
  let edge = 0;
  for (let i = 0; i < snap.nodes.length; i += nf.length) {
    for (let e = 0; e < (snap.nodes[i + edgeCountAt] as number); e++, edge += ef.length) {
      const t = edgeTypes[snap.edges[edge + eTypeAt] as number] as string;
      if (t === 'weak' || t === 'shortcut') continue;
      const to = snap.edges[edge + eToAt] as number;
      const label =
        t === 'element' || t === 'hidden'
          ? `[${snap.edges[edge + eNameAt]}]`
          : (snap.strings[snap.edges[edge + eNameAt] as number] as string);
      const list = parents.get(to) ?? [];
      list.push({ from: i, edge: label });
      parents.set(to, list);
    }
  }
  const chains = new Map<string, number>();
  for (let i = 0; i < snap.nodes.length; i += nf.length) {
    const matches = kind(i) === what || (type(i) === 'string' && name(i).startsWith(what));
    if (!matches) continue;
    const chain: string[] = [kind(i) === 'string' ? JSON.stringify(name(i).slice(0, 40)) : kind(i)];
    let at = i;
    for (let d = 0; d < depth; d++) {
      const up = parents.get(at)?.[0];
      if (!up) break;
      chain.push(`${kind(up.from)} .${up.edge.replace(/^\[\d+\]$/, '[n]')}`);
      at = up.from;
    }
    const key = chain.join('  <-  ');
    chains.set(key, (chains.get(key) ?? 0) + 1);
  }
  console.log(`\nthe most common retainer chains of ${what}: count  chain`);
  for (const [key, count] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, samples)) console.log(`${String(count).padStart(7)}  ${key}`);
}

const transport = (process.argv[2] ?? 'ws') as Transport;
const n = Number(process.argv[3] ?? 2000);
const target = await startCodecast({ maxConnections: n + 100, perUser: 500 });
try {
  const url = target.inspectorUrl();
  if (!url) throw new Error('codecast has no inspector');
  await target.prepare(n);
  const pool = ClientPool.start(specsFor(target, transport, n), 5000);
  try {
    await pool.open(target.host, target.port, 64, () => undefined);
    const snap = (await takeHeapSnapshot(url)) as unknown as Snapshot;
    describeRetainers(snap, n);
    if (process.argv[4]) chainsOf(snap, process.argv[4]);
  } finally {
    await pool.close();
  }
} finally {
  await target.stop();
}
process.exit(0);
