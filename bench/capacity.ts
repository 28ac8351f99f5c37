// The capacity model of issue 11, from measured figures:
//
//   node --import tsx bench/capacity.ts bench/results/A.json bench/results/B.json … [options]
//
// It reads the results of the runs docs/BENCHMARKS.md names (a `--suite
// cluster`, sustained runs with few subscribers on 3 nodes and on 1, bursts
// of one transport on one node), fits what a node process spends — a second
// of being up, a code, a delivery — and what Redis and PostgreSQL spend per
// publish, checks how well that predicts the runs measured, and sizes a
// deployment for the subscriber counts and publish rates asked.
// Markdown on stdout.
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
    /** Share of a core one node process may use, leaving room for bursts, connects and the event loop's latency. */
    utilization: { type: 'string', default: '0.5' },
    /** One code's fan-out on one process must reach its last subscriber within this. */
    'latency-ms': { type: 'string', default: '250' },
    /** Machine sizes, vCPUs:GiB; one node process per vCPU. */
    machines: { type: 'string', default: '2:4,8:16' },
    /** Egress one machine can sustain, Gbit/s. */
    'nic-gbit': { type: 'string', default: '10' },
    /** Share of the subscribers on each transport, sse:ws:socketio. */
    mix: { type: 'string', default: '1:1:1' },
    /** Redis runs commands on one thread: the share of it a deployment may use. */
    'redis-share': { type: 'string', default: '0.5' },
    /** The PostgreSQL server's cores, and the share of them a deployment may use. */
    'db-cores': { type: 'string', default: '8' },
    'db-share': { type: 'string', default: '0.5' },
    /** Cores of the machine the runs were measured on (servers and load clients together). */
    'bench-cores': { type: 'string', default: '2' },
  },
});

interface Results {
  readonly bursts: BurstResult[];
  readonly sustained: SustainedResult[];
}

const files = positionals.map((file) => JSON.parse(readFileSync(file, 'utf8')) as Results);
const bursts = files.flatMap((f) => f.bursts);
const sustained = files.flatMap((f) => f.sustained);
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
const codecastNode = (target: string) => !isSqliteNode(target) && !target.startsWith('bare');

/** Solves the least-squares fit of y ≈ X·b (normal equations, Gaussian elimination); null when singular. */
function leastSquares(rows: readonly (readonly number[])[], y: readonly number[]): number[] | null {
  const k = rows[0]?.length ?? 0;
  const a = Array.from({ length: k }, (_, i) => [
    ...Array.from({ length: k }, (_, j) => rows.reduce((s, r) => s + (r[i] as number) * (r[j] as number), 0)),
    rows.reduce((s, r, n) => s + (r[i] as number) * (y[n] as number), 0),
  ]);
  for (let c = 0; c < k; c++) {
    const pivot = a
      .slice(c)
      .reduce((best, row, i) => (Math.abs(row[c] as number) > Math.abs((a[best] as number[])[c] as number) ? c + i : best), c);
    [a[c], a[pivot]] = [a[pivot] as number[], a[c] as number[]];
    const p = (a[c] as number[])[c] as number;
    if (Math.abs(p) < 1e-12) return null;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = ((a[r] as number[])[c] as number) / p;
      for (let j = c; j <= k; j++) (a[r] as number[])[j] = ((a[r] as number[])[j] as number) - f * ((a[c] as number[])[j] as number);
    }
  }
  return a.map((row, i) => (row[k] as number) / (row[i] as number));
}

// ---- What a connection costs in memory ----

/** Memory per connection by transport: the bursts of one transport on one codecast node (the largest N of each). */
const memory = new Map<string, { kb: number; heapKb: number | null; from: string }>();
for (const transport of ['sse', 'ws', 'socketio', 'mixed']) {
  const runs = bursts.filter((r) => r.transport === transport && r.kbPerConnection !== null && codecastNode(r.target));
  if (runs.length === 0) continue;
  const largest = Math.max(...runs.map((r) => r.subscribers));
  const at = runs.filter((r) => r.subscribers === largest);
  memory.set(transport, {
    kb: median(at.map((r) => r.kbPerConnection)) as number,
    heapKb: median(at.map((r) => r.heapKbPerConnection)),
    from: `${at.length} burst(s) of ${largest.toLocaleString('en-US')} over ${[...new Set(at.map((r) => `${r.nodes} node(s)`))].join(', ')}`,
  });
}
const baseRssMb = median(bursts.filter((r) => r.rssKb.before !== null).map((r) => (r.rssKb.before as number) / r.nodes / 1024));
const mix = values.mix.split(':').map(Number);
const mixTotal = mix.reduce((a, b) => a + b, 0);
const kbMixed = ['sse', 'ws', 'socketio'].every((t) => memory.has(t))
  ? ['sse', 'ws', 'socketio'].reduce((sum, t, i) => sum + ((memory.get(t)?.kb ?? 0) * (mix[i] ?? 0)) / mixTotal, 0)
  : (memory.get('mixed')?.kb ?? null);

// ---- What a node process spends: y (CPU ms per second) = idle + rate × perCode + rate × subscribers × perDelivery ----

/** Wall time a sustained run's CPU figures cover (older results: the publishing window and the 3 s drain). */
const seconds = (r: SustainedResult) => r.cpuSeconds ?? (r.windowUs.to - r.windowUs.from) / 1e6 + 3;
const rateOf = (r: SustainedResult) => measuredCodes(r) / seconds(r);
const perSecond = (r: SustainedResult, i: number) => (r.cpuMsByProcess[i] ?? Number.NaN) / seconds(r);
const clusterRuns = sustained.filter(
  (r) => r.nodes > 1 && r.cpuMsByProcess.length === r.nodes && r.cpuMsByProcess.every((x) => x !== null),
);
/** Nodes that only read the stream (not node 0): one observation each. */
const observations = clusterRuns.flatMap((r) =>
  r.cpuMsByProcess.slice(1).map((_, i) => ({ x: [1, rateOf(r), rateOf(r) * (r.subscribers / r.nodes)], y: perSecond(r, i + 1) })),
);
const fit =
  observations.length >= 3
    ? leastSquares(
        observations.map((o) => o.x),
        observations.map((o) => o.y),
      )
    : null;
const idleMsPerS = fit?.[0] ?? null;
const codeUs = fit ? (fit[1] as number) * 1000 : null;
const deliveryUs = fit ? (fit[2] as number) * 1000 : null;
/** What node 0 spends more than a node that only reads, per publish it takes (HTTP, the transaction, the append). */
const publishUs = median(
  clusterRuns.map((r) => {
    const others = r.cpuMsByProcess.slice(1).map((_, i) => perSecond(r, i + 1));
    return ((perSecond(r, 0) - others.reduce((a, b) => a + b, 0) / others.length) * 1000) / rateOf(r);
  }),
);
const burstUsPerDelivery = median(bursts.filter((r) => r.target === 'codecast-pg-redis').map((r) => r.summary.cpuPerDeliveryUs));

// ---- Redis and PostgreSQL per publish: a + b × nodes, from runs at one node and at N (the highest rate) ----

const busiest = Math.max(...sustained.map((r) => r.rate));
const backendRuns = sustained.filter((r) => r.rate === busiest && r.backend);
const nodeCounts = [...new Set(backendRuns.map((r) => r.nodes))].sort((a, b) => a - b);
function perNodeFit(pick: (r: SustainedResult) => number | null | undefined): { fixed: number; perNode: number } | null {
  const rows = backendRuns.map((r) => ({ n: r.nodes, v: pick(r) })).filter((o): o is { n: number; v: number } => typeof o.v === 'number');
  if (new Set(rows.map((o) => o.n)).size < 2) return null;
  const solved = leastSquares(
    rows.map((o) => [1, o.n]),
    rows.map((o) => o.v),
  );
  return solved ? { fixed: solved[0] as number, perNode: solved[1] as number } : null;
}
const redisUs = perNodeFit((r) => r.backend?.redis?.cpuUsPerPublish);
const redisCommands = perNodeFit((r) => r.backend?.redis?.commandsPerPublish);
const postgresUs = perNodeFit((r) => r.backend?.postgres?.backendCpuUsPerPublish);
const postgresCommits = perNodeFit((r) => r.backend?.postgres?.commitsPerPublish);
const largest = sustained.filter((r) => r.bytesWritten).sort((a, b) => b.subscribers - a.subscribers)[0];
const bytesPerDelivery = largest?.bytesWritten ? largest.bytesWritten / (measuredCodes(largest) * largest.subscribers) : null;
const linear = (f: { fixed: number; perNode: number } | null, unit: string, digits = 0) =>
  f === null ? '-' : `${fmt(f.fixed, digits)} ${unit} + ${fmt(f.perNode, digits)} ${unit} per node`;

const out: string[] = [];
out.push('### Costs measured');
out.push(
  table(
    ['cost', 'value', 'from'],
    [
      ...[...memory].map(([t, m]) => [`RSS per connection, ${t}`, `${fmt(m.kb, 2)} KB (heap ${fmt(m.heapKb, 2)} KB)`, m.from]),
      [`RSS per connection, the mix ${values.mix}`, `${fmt(kbMixed, 2)} KB`, 'the transports above, weighted'],
      ['RSS of a node process before subscribers', `${fmt(baseRssMb, 0)} MB`, 'every burst, after a full GC'],
      [
        'node CPU per delivery, one code at a time',
        `${fmt(burstUsPerDelivery, 2)} µs`,
        'bursts on one node with PostgreSQL and Redis (a code to everyone, then the next)',
      ],
      [
        'node CPU per delivery, sustained',
        `${fmt(deliveryUs, 2)} µs`,
        `least squares over ${observations.length} reading nodes of ${clusterRuns.length} sustained runs`,
      ],
      ['node CPU per code, every node', `${fmt(codeUs, 0)} µs`, 'the same fit'],
      ['node CPU per second of being up', `${fmt(idleMsPerS, 1)} ms`, 'the same fit (timers, heartbeats, leases, checks)'],
      ['CPU per publish on the node that takes it, more', `${fmt(publishUs, 0)} µs`, 'node 0 less the mean of the others, same runs'],
      [
        'Redis CPU per publish',
        linear(redisUs, 'µs'),
        `runs at ${busiest}/s over ${nodeCounts.join(' and ')} node(s) (INFO cpu, a Redis of the runs' own)`,
      ],
      ['Redis commands per publish', linear(redisCommands, '', 2), 'INFO commandstats'],
      ['PostgreSQL backend CPU per publish', linear(postgresUs, 'µs'), "the backends of the run's database (/proc)"],
      ['PostgreSQL commits per publish', linear(postgresCommits, '', 2), 'pg_stat_database'],
      [
        'bytes written per delivery',
        `${fmt(bytesPerDelivery, 0)} B`,
        largest ? `${largest.transport}, /proc wchar of the nodes` : 'not measured',
      ],
    ],
  ),
);

// ---- How well this predicts the runs here ----

const rows: string[][] = [];
if (idleMsPerS !== null && codeUs !== null && deliveryUs !== null && publishUs !== null) {
  for (const r of sustained.filter((s) => codecastNode(s.target) && s.cpuMs !== null)) {
    const rate = rateOf(r);
    const perNode = r.nodes * idleMsPerS + (rate * (r.nodes * codeUs + r.subscribers * deliveryUs + publishUs)) / 1000;
    const predicted = perNode * seconds(r);
    rows.push([
      `sustained ${r.rate}/s to ${r.subscribers.toLocaleString('en-US')}, ${r.nodes} node(s)${r.nodes > 1 ? ' (fitted)' : ''}; ${fmt(rate, 0)}/s achieved`,
      'node CPU, all nodes',
      `${fmt(predicted / 1000, 1)} s`,
      `${fmt((r.cpuMs as number) / 1000, 1)} s`,
      `${fmt((predicted / (r.cpuMs as number) - 1) * 100, 0)} %`,
    ]);
  }
}
if (burstUsPerDelivery !== null) {
  const benchCores = Number(values['bench-cores']);
  for (const r of bursts.filter((b) => codecastNode(b.target) && b.summary.lastMs !== null)) {
    // One code's fan-out is one process's loop over its subscribers, the nodes side by side, each on a core of its own;
    // here the nodes share the machine with the load clients, who read as much as the nodes write: about one core for the nodes.
    const dedicated = (Math.ceil(r.subscribers / r.nodes) * burstUsPerDelivery) / 1000;
    const here = (r.subscribers * burstUsPerDelivery) / 1000 / Math.max(1, Math.min(r.nodes, benchCores - 1));
    const measured = r.summary.lastMs as number;
    rows.push([
      `burst of ${r.subscribers.toLocaleString('en-US')} ${r.transport}, ${r.nodes} node(s)`,
      'time to the last subscriber',
      r.nodes > 1 ? `${fmt(here, 0)} ms here (${fmt(dedicated, 0)} ms with a core per node)` : `${fmt(dedicated, 0)} ms`,
      `${fmt(measured, 0)} ms`,
      `${fmt((here / measured - 1) * 100, 0)} %`,
    ]);
  }
}
if (kbMixed !== null && baseRssMb !== null) {
  for (const r of bursts.filter((b) => b.transport === 'mixed' && b.rssKb.connected !== null && codecastNode(b.target))) {
    const predicted = r.nodes * baseRssMb + (r.connect.connected * kbMixed) / 1024;
    const measured = (r.rssKb.connected as number) / 1024;
    rows.push([
      `burst of ${r.subscribers.toLocaleString('en-US')} mixed, ${r.nodes} node(s)`,
      'RSS connected, all nodes',
      `${fmt(predicted, 0)} MB`,
      `${fmt(measured, 0)} MB`,
      `${fmt((predicted / measured - 1) * 100, 0)} %`,
    ]);
  }
}
if (rows.length) out.push('', '### The model against the runs measured here', table(['run', 'figure', 'model', 'measured', 'error'], rows));

// ---- Sizing ----

const utilization = Number(values.utilization);
const latencyMs = Number(values['latency-ms']);
const nicBytes = (Number(values['nic-gbit']) * 1e9) / 8;
const machines = values.machines.split(',').map((m) => {
  const [cpus, gib] = m.split(':').map(Number) as [number, number];
  return { cpus, gib };
});
if (
  idleMsPerS !== null &&
  codeUs !== null &&
  deliveryUs !== null &&
  burstUsPerDelivery !== null &&
  kbMixed !== null &&
  baseRssMb !== null
) {
  const sizing: string[][] = [];
  const byCpu = (rate: number) => Math.floor((utilization * 1e6 - idleMsPerS * 1000 - rate * codeUs) / (rate * deliveryUs));
  const byLatency = Math.floor((latencyMs * 1000) / burstUsPerDelivery);
  for (const subscribers of list(values.subscribers)) {
    for (const rate of list(values.rates)) {
      for (const machine of machines) {
        const byMemory = Math.floor((((machine.gib * 1024 * 0.8) / machine.cpus - baseRssMb) * 1024) / kbMixed);
        const perProcess = Math.min(byCpu(rate), byLatency, byMemory);
        const bound = perProcess === byCpu(rate) ? 'node CPU' : perProcess === byLatency ? `fan-out ≤ ${latencyMs} ms` : 'node memory';
        const processes = Math.ceil(subscribers / perProcess);
        const egress = bytesPerDelivery === null ? null : rate * subscribers * bytesPerDelivery;
        const byNic = egress === null ? 0 : Math.ceil(egress / nicBytes);
        const byProcesses = Math.ceil(processes / machine.cpus);
        const count = Math.max(byProcesses, byNic);
        const redis = redisUs === null ? null : (rate * (redisUs.fixed + redisUs.perNode * processes)) / 1e6;
        const postgres = postgresUs === null ? null : (rate * (postgresUs.fixed + postgresUs.perNode * processes)) / 1e6;
        // Processes and machines can be added; Redis's one thread and the database server cannot, so they end the scaling.
        const overRedis = redis !== null && redis > Number(values['redis-share']);
        const overDb = postgres !== null && postgres > Number(values['db-cores']) * Number(values['db-share']);
        const first =
          overRedis || overDb
            ? `**${[overRedis ? 'Redis' : '', overDb ? 'PostgreSQL' : ''].filter(Boolean).join(' and ')}**`
            : byNic > byProcesses
              ? 'network'
              : bound;
        sizing.push([
          subscribers.toLocaleString('en-US'),
          `${rate}/s`,
          `${machine.cpus} vCPU, ${machine.gib} GiB`,
          `${perProcess.toLocaleString('en-US')} (${bound})`,
          first,
          fmt(processes, 0),
          fmt(count, 0),
          egress === null ? '-' : `${fmt((egress * 8) / 1e9 / count, 2)} Gbit/s`,
          redis === null ? '-' : `${fmt(redis * 100, 1)} %`,
          postgres === null ? '-' : fmt(postgres, 2),
        ]);
      }
    }
  }
  out.push(
    '',
    `### Sizing: one node process per vCPU, at most ${utilization * 100} % busy; one code's fan-out within ${latencyMs} ms; 80 % of memory for the processes; ${values['nic-gbit']} Gbit/s a machine; Redis at most ${Number(values['redis-share']) * 100} % of its thread; PostgreSQL at most ${Number(values['db-share']) * 100} % of ${values['db-cores']} cores`,
    table(
      [
        'subscribers',
        'codes',
        'machine',
        'subscribers per process (bound)',
        'first bottleneck',
        'processes',
        'machines',
        'egress a machine',
        'Redis, share of its thread',
        'PostgreSQL backends, cores',
      ],
      sizing,
    ),
    '',
    `Per process: ${byLatency.toLocaleString('en-US')} subscribers by the fan-out latency; by CPU ${list(values.rates)
      .map((rate) => `${byCpu(rate).toLocaleString('en-US')} at ${rate}/s`)
      .join(', ')}.` +
      (redisUs === null
        ? ''
        : ` Redis spends one core at ${fmt(1e6 / (redisUs.fixed + redisUs.perNode * 10), 0)} publishes/s with 10 processes reading, ${fmt(1e6 / (redisUs.fixed + redisUs.perNode * 100), 0)} with 100.`) +
      (postgresUs === null
        ? ''
        : ` PostgreSQL's backends spend one core at ${fmt(1e6 / (postgresUs.fixed + postgresUs.perNode * 10), 0)} publishes/s with 10 processes, ${fmt(1e6 / (postgresUs.fixed + postgresUs.perNode * 100), 0)} with 100.`),
  );
}
console.log(out.join('\n'));
