// Where a server's RSS goes when N subscribers connect: RSS, V8 heap spaces
// (used and committed) and memory outside the V8 heap, after a full GC,
// before and after connecting, for the bare broadcaster and for codecast.
//
//   node --import tsx bench/experiments/memory-spaces.ts [sse|ws|socketio] [N=10000]
import { ClientPool } from '../client-pool.js';
import { specsFor } from '../harness.js';
import { rssKb } from '../measure.js';
import type { Transport } from '../protocol.js';
import { openInspector, startBare, startCodecast, type Target } from '../targets.js';

type Report = Record<string, number>;

async function report(url: string, pid: number): Promise<Report> {
  const inspector = await openInspector(url);
  await inspector.call('HeapProfiler.collectGarbage');
  const expression = `JSON.stringify((() => {
    const v8 = process.getBuiltinModule('v8');
    const m = process.memoryUsage();
    const out = { heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
    for (const s of v8.getHeapSpaceStatistics()) { out[s.space_name + ' used'] = s.space_used_size; out[s.space_name + ' size'] = s.space_size; }
    return out;
  })())`;
  const result = (await inspector.call('Runtime.evaluate', { expression, returnByValue: true })) as { result: { value: string } };
  inspector.close();
  const values = JSON.parse(result.result.value) as Report;
  return { rss: (rssKb(pid) ?? 0) * 1024, ...values };
}

async function measure(target: Target, transport: Transport, n: number): Promise<Report> {
  try {
    const url = target.inspectorUrl();
    const pid = target.pid;
    if (!url || !pid) throw new Error(`${target.name} has no inspector or pid`);
    await target.prepare(n);
    const before = await report(url, pid);
    const pool = ClientPool.start(specsFor(target, transport, n), 5000);
    try {
      await pool.open(target.host, target.port, 64, () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const after = await report(url, pid);
      return Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k] ?? 0) - (before[k] ?? 0)) / n]));
    } finally {
      await pool.close();
    }
  } finally {
    await target.stop();
  }
}

const transport = (process.argv[2] ?? 'ws') as Transport;
const n = Number(process.argv[3] ?? 10000);
const bare = await measure(await startBare(transport), transport, n);
const codecast = await measure(await startCodecast({ maxConnections: n + 100, perUser: 500 }), transport, n);
console.log(`bytes per ${transport} connection, N=${n}, after a full GC (after − before connecting) ÷ N`);
console.log('      bare   codecast  what');
for (const key of Object.keys(codecast)) {
  console.log(`${(bare[key] ?? 0).toFixed(0).padStart(10)} ${(codecast[key] ?? 0).toFixed(0).padStart(10)}  ${key}`);
}
process.exit(0);
