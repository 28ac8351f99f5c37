// The capacity model of issue 11, from measured figures:
//
//   node --import tsx bench/capacity.ts bench/results/A.json bench/results/B.json … [options]
//
// It reads the results of the runs docs/BENCHMARKS.md names (a `--suite
// cluster`, sustained runs with few subscribers on 3 nodes and on 1, bursts
// of one transport on one node), derives the cost of a connection, a
// delivery, a code on a node and a publish in Redis and PostgreSQL, checks
// how well those costs predict the runs measured, and sizes a deployment
// for the subscriber counts and publish rates asked. Markdown on stdout.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BurstResult, SustainedResult } from './harness.js';
import { median } from './measure.js';
import { isSqliteNode, measuredCodes } from './report.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    subscribers: { type: 'string', default: '100000,1000000' },
    rates: { type: 'string', default: '1,10,100' },
    /** Share of a core one node process may use at the publish rate, leaving room for bursts and connects. */
    utilization: { type: 'string', default: '0.6' },
    /** The fan-out of one code on one process must reach its last subscriber within this. */
    'latency-ms': { type: 'string', default: '250' },
    /** Machine sizes: vCPUs:GiB, one node process per vCPU. */
    machines: { type: 'string', default: '2:4,8:16' },
    /** Egress a machine can sustain, Gbit/s. */
    'nic-gbit': { type: 'string', default: '10' },
    /** Share of the subscribers on each transport: sse:ws:socketio. */
    mix: { type: 'string', default: '1:1:1' },
  },
});

interface Results {
  readonly bursts: BurstResult[];
  readonly sustained: SustainedResult[];
}

const files = positionals.map((file) => ({ file, ...(JSON.parse(readFileSync(file, 'utf8')) as Results) }));
const bursts = files.flatMap((f) => f.bursts.map((r) => ({ ...r, file: f.file })));
const sustained = files.flatMap((f) => f.sustained.map((r) => ({ ...r, file: f.file })));
if (bursts.length === 0 && sustained.length === 0) {
  console.error('usage: node --import tsx bench/capacity.ts RESULTS.json… (see docs/BENCHMARKS.md, "Capacity model")');
  process.exit(2);
}

const list = (text: string) => text.split(',').map(Number);
const fmt = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '-'
    : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

// ---- Costs, from the runs ----

/** Memory per connection by transport: bursts of one transport on one node (the largest N of each). */
const memory = new Map<string, { kb: number; heapKb: number | null; from: string }>();
for (const transport of ['sse', 'ws', 'socketio', 'mixed']) {
  const runs = bursts.filter(
    (r) => r.transport === transport && r.kbPerConnection !== null && !isSqliteNode(r.target) && !r.target.startsWith('bare'),
  );
  if (runs.length === 0) continue;
  const largest = Math.max(...runs.map((r) => r.subscribers));
  const at = runs.filter((r) => r.subscribers === largest);
  memory.set(transport, {
    kb: median(at.map((r) => r.kbPerConnection)) as number,
    heapKb: median(at.map((r) => r.heapKbPerConnection)),
    from: `${at.length} burst(s) of ${largest} on ${[...new Set(at.map((r) => r.target))].join(', ')}`,
  });
}
/** RSS of a node process before any subscriber (after a full GC). */
const baseRssMb = median(bursts.filter((r) => r.rssKb.before !== null).map((r) => (r.rssKb.before as number) / r.nodes / 1024));

/** CPU per delivery when one code at a time goes to everyone: the one-node PG+Redis bursts. */
const oneNodeBursts = bursts.filter((r) => r.target === 'codecast-pg-redis');
const burstUsPerDelivery = median(oneNodeBursts.map((r) => r.summary.cpuPerDeliveryUs));

/** Sustained runs of the cluster at two subscriber counts: per-code and per-delivery cost apart. */
const cpuPerCode = (r: SustainedResult, i: number) => (r.cpuMsByProcess[i] ?? Number.NaN) / measuredCodes(r);
const clusterRuns = sustained.filter((r) => r.nodes > 1 && r.cpuMsByProcess.length === r.nodes);
const small = clusterRuns.reduce<SustainedResult | undefined>((a, r) => (a && a.subscribers <= r.subscribers ? a : r), undefined);
const large = clusterRuns.reduce<SustainedResult | undefined>((a, r) => (a && a.subscribers >= r.subscribers ? a : r), undefined);
const othersMs = (r: SustainedResult) => {
  const others = r.cpuMsByProcess.slice(1).map((_, i) => cpuPerCode(r, i + 1));
  return others.reduce((a, b) => a + b, 0) / others.length;
};
let sustainedUsPerDelivery: number | null = null;
let nodeUsPerCode: number | null = null;
let publishUsPerCode: number | null = null;
if (small && large && small !== large) {
  const perNode = (r: SustainedResult) => r.subscribers / r.nodes;
  sustainedUsPerDelivery = ((othersMs(large) - othersMs(small)) * 1000) / (perNode(large) - perNode(small));
  nodeUsPerCode = othersMs(small) * 1000 - perNode(small) * sustainedUsPerDelivery;
  publishUsPerCode = (cpuPerCode(small, 0) - othersMs(small)) * 1000;
}

/** Redis work per publish against the number of nodes reading the stream: a + b·N, from runs at 1 node and at N. */
const redisRuns = sustained.filter((r) => r.backend?.redis);
const redisAt = (nodes: number) => median(redisRuns.filter((r) => r.nodes === nodes).map((r) => r.backend?.redis?.cpuUsPerPublish ?? null));
const redisCommandsAt = (nodes: number) =>
  median(redisRuns.filter((r) => r.nodes === nodes).map((r) => r.backend?.redis?.commandsPerPublish ?? null));
const clusterNodes = Math.max(1, ...redisRuns.map((r) => r.nodes));
let redisFixedUs: number | null = null;
let redisPerNodeUs: number | null = null;
let redisCommandsFixed: number | null = null;
let redisCommandsPerNode: number | null = null;
const r1 = redisAt(1);
const rn = redisAt(clusterNodes);
if (r1 !== null && rn !== null && clusterNodes > 1) {
  redisPerNodeUs = (rn - r1) / (clusterNodes - 1);
  redisFixedUs = r1 - redisPerNodeUs;
  const c1 = redisCommandsAt(1) as number;
  const cn = redisCommandsAt(clusterNodes) as number;
  redisCommandsPerNode = (cn - c1) / (clusterNodes - 1);
  redisCommandsFixed = c1 - redisCommandsPerNode;
}
const postgresUs = median(sustained.map((r) => r.backend?.postgres?.backendCpuUsPerPublish ?? null));
const postgresCommits = median(sustained.map((r) => r.backend?.postgres?.commitsPerPublish ?? null));
const bytesPerDelivery = large?.bytesWritten ? large.bytesWritten / (measuredCodes(large) * large.subscribers) : null;

const mix = values.mix.split(':').map(Number);
const mixTotal = mix.reduce((a, b) => a + b, 0);
const kbMixed = ['sse', 'ws', 'socketio'].every((t) => memory.has(t))
  ? ['sse', 'ws', 'socketio'].reduce((sum, t, i) => sum + ((memory.get(t)?.kb ?? 0) * (mix[i] ?? 0)) / mixTotal, 0)
  : (memory.get('mixed')?.kb ?? null);

const out: string[] = [];
out.push('### Costs measured');
out.push(
  table(
    ['cost', 'value', 'from'],
    [
      ...[...memory].map(([t, m]) => [`RSS per connection, ${t}`, `${fmt(m.kb, 2)} KB (heap ${fmt(m.heapKb, 2)} KB)`, m.from]),
      [`RSS per connection, the mix ${values.mix}`, `${fmt(kbMixed, 2)} KB`, 'the transports above, weighted'],
      ['RSS of a node before subscribers', `${fmt(baseRssMb, 0)} MB`, 'every burst, after a full GC'],
      ['node CPU per delivery, one code at a time', `${fmt(burstUsPerDelivery, 2)} µs`, 'bursts of one node on PostgreSQL and Redis'],
      [
        'node CPU per delivery, sustained',
        `${fmt(sustainedUsPerDelivery, 2)} µs`,
        small && large
          ? `non-publishing nodes, ${small.subscribers} against ${large.subscribers} subscribers over ${large.nodes} nodes`
          : 'not measured',
      ],
      [
        'node CPU per code, on every node',
        `${fmt(nodeUsPerCode, 0)} µs`,
        small ? `non-publishing nodes, ${small.subscribers} subscribers` : 'not measured',
      ],
      [
        'CPU per publish, on the node that takes it (more)',
        `${fmt(publishUsPerCode, 0)} µs`,
        small ? 'node 0 less the others, same run' : 'not measured',
      ],
      [
        'Redis CPU per publish',
        `${fmt(redisFixedUs, 0)} µs + ${fmt(redisPerNodeUs, 0)} µs per node`,
        `runs at 1 and ${clusterNodes} nodes (INFO cpu)`,
      ],
      ['Redis commands per publish', `${fmt(redisCommandsFixed, 1)} + ${fmt(redisCommandsPerNode, 1)} per node`, 'INFO commandstats'],
      ['PostgreSQL backend CPU per publish', `${fmt(postgresUs, 0)} µs`, `${fmt(postgresCommits, 2)} commits per publish`],
      [
        'bytes written per delivery',
        `${fmt(bytesPerDelivery, 0)} B`,
        large ? `${large.transport}, /proc wchar of the nodes` : 'not measured',
      ],
    ],
  ),
);

// ---- How well the costs predict the runs here ----

const predictRows: string[][] = [];
if (sustainedUsPerDelivery !== null && nodeUsPerCode !== null && publishUsPerCode !== null) {
  for (const r of sustained) {
    if (r.cpuMs === null) continue;
    const codes = measuredCodes(r);
    const predicted = (codes * (publishUsPerCode + r.nodes * nodeUsPerCode + r.subscribers * sustainedUsPerDelivery)) / 1000;
    const fitted = r === small || r === large;
    predictRows.push([
      `sustained ${r.rate}/s to ${r.subscribers}, ${r.nodes} node(s)${fitted ? ' (fitted)' : ''}`,
      'server CPU, all nodes',
      `${fmt(predicted / 1000, 1)} s`,
      `${fmt(r.cpuMs / 1000, 1)} s`,
      `${fmt((predicted / r.cpuMs - 1) * 100, 0)} %`,
    ]);
  }
}
if (burstUsPerDelivery !== null) {
  for (const r of bursts.filter((b) => !isSqliteNode(b.target) && !b.target.startsWith('bare'))) {
    if (r.summary.lastMs === null) continue;
    // One code's fan-out is one process's loop: its subscribers × the cost of a delivery, nodes side by side (each its own core).
    const perNode = Math.ceil(r.subscribers / r.nodes);
    const dedicated = (perNode * burstUsPerDelivery) / 1000;
    predictRows.push([
      `burst of ${r.subscribers} ${r.transport}, ${r.nodes} node(s)`,
      'time to the last subscriber',
      `${fmt(dedicated, 0)} ms`,
      `${fmt(r.summary.lastMs, 0)} ms`,
      `${fmt((dedicated / r.summary.lastMs - 1) * 100, 0)} %`,
    ]);
  }
}
if (kbMixed !== null && baseRssMb !== null) {
  for (const r of bursts.filter((b) => b.transport === 'mixed' && b.rssKb.connected !== null && !isSqliteNode(b.target))) {
    const predicted = r.nodes * baseRssMb + (r.connect.connected * kbMixed) / 1024;
    const measured = (r.rssKb.connected as number) / 1024;
    predictRows.push([
      `burst of ${r.subscribers} mixed, ${r.nodes} node(s)`,
      'RSS connected, all nodes',
      `${fmt(predicted, 0)} MB`,
      `${fmt(measured, 0)} MB`,
      `${fmt((predicted / measured - 1) * 100, 0)} %`,
    ]);
  }
}
if (predictRows.length) {
  out.push('', '### The model against the runs measured here');
  out.push(table(['run', 'figure', 'model', 'measured', 'error'], predictRows));
}

// ---- Sizing ----

const utilization = Number(values.utilization);
const latencyMs = Number(values['latency-ms']);
const nicBytes = (Number(values['nic-gbit']) * 1e9) / 8;
const machines = values.machines.split(',').map((m) => {
  const [cpus, gib] = m.split(':').map(Number) as [number, number];
  return { cpus, gib };
});
if (sustainedUsPerDelivery !== null && nodeUsPerCode !== null && burstUsPerDelivery !== null && kbMixed !== null && baseRssMb !== null) {
  const rows: string[][] = [];
  for (const subscribers of list(values.subscribers)) {
    for (const rate of list(values.rates)) {
      // A process's CPU per second: every code costs it nodeUsPerCode plus a delivery per subscriber it holds.
      const perProcessByCpu = Math.floor((utilization * 1e6 - rate * nodeUsPerCode) / (rate * sustainedUsPerDelivery));
      const perProcessByLatency = Math.floor((latencyMs * 1000) / burstUsPerDelivery);
      for (const machine of machines) {
        const memoryPerProcessMb = (machine.gib * 1024 * 0.8) / machine.cpus - baseRssMb;
        const perProcessByMemory = Math.floor((memoryPerProcessMb * 1024) / kbMixed);
        const perProcess = Math.min(perProcessByCpu, perProcessByLatency, perProcessByMemory);
        const bound =
          perProcess === perProcessByCpu ? 'node CPU' : perProcess === perProcessByLatency ? `fan-out ≤ ${latencyMs} ms` : 'node memory';
        const processes = perProcess > 0 ? Math.ceil(subscribers / perProcess) : Number.POSITIVE_INFINITY;
        const egress = bytesPerDelivery === null ? null : rate * subscribers * bytesPerDelivery;
        const machinesByNic = egress === null ? 0 : Math.ceil(egress / nicBytes);
        const machinesByProcess = Math.ceil(processes / machine.cpus);
        const count = Math.max(machinesByProcess, machinesByNic);
        const perMachineBytes = egress === null ? null : egress / count;
        const redisCore =
          redisFixedUs === null || redisPerNodeUs === null ? null : (rate * (redisFixedUs + redisPerNodeUs * processes)) / 1e6;
        const postgresCore = postgresUs === null ? null : (rate * postgresUs) / 1e6;
        const first = machinesByNic > machinesByProcess ? 'network' : bound;
        rows.push([
          fmt(subscribers, 0),
          `${rate}/s`,
          `${machine.cpus} vCPU, ${machine.gib} GiB`,
          `${fmt(perProcess, 0)} (${first})`,
          fmt(count, 0),
          fmt(processes, 0),
          perMachineBytes === null ? '-' : `${fmt((perMachineBytes * 8) / 1e9, 2)} Gbit/s`,
          redisCore === null ? '-' : `${fmt(redisCore * 100, 1)} %`,
          postgresCore === null ? '-' : `${fmt(postgresCore * 100, 1)} %`,
        ]);
      }
    }
  }
  out.push(
    '',
    `### Sizing (one node process per vCPU at most ${utilization * 100} % busy; one code's fan-out within ${latencyMs} ms; 80 % of memory for the processes; ${values['nic-gbit']} Gbit/s per machine)`,
  );
  out.push(
    table(
      [
        'subscribers',
        'codes',
        'machine',
        'subscribers per process (bound)',
        'machines',
        'processes',
        'egress per machine',
        'Redis (one core)',
        'PostgreSQL (one core)',
      ],
      rows,
    ),
  );
  out.push(
    '',
    `Per process: ${fmt(Math.floor((latencyMs * 1000) / burstUsPerDelivery), 0)} subscribers by the fan-out latency; by CPU ` +
      list(values.rates)
        .map((rate) => `${fmt(Math.floor((utilization * 1e6 - rate * nodeUsPerCode) / (rate * sustainedUsPerDelivery)), 0)} at ${rate}/s`)
        .join(', ') +
      `. Redis and PostgreSQL saturate one core at ` +
      (redisFixedUs === null || redisPerNodeUs === null
        ? '-'
        : `${fmt(1e6 / (redisFixedUs + redisPerNodeUs * 10), 0)} publishes/s with 10 processes, ${fmt(1e6 / (redisFixedUs + redisPerNodeUs * 100), 0)} with 100`) +
      ` (Redis); ${postgresUs === null ? '-' : fmt(1e6 / postgresUs, 0)} publishes/s (PostgreSQL, one core of backend CPU).`,
  );
}
console.log(out.join('\n'));
