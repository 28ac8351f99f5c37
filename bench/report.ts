import type { AttackResult } from './attack.js';
import type { BackendWork } from './backend-work.js';
import type { BurstResult, SustainedResult } from './harness.js';
import { median, round } from './measure.js';
import { formatPeriodLine, type SoakResult } from './soak.js';

export interface Comparison {
  readonly round: number;
  readonly transport: string;
  readonly subscribers: number;
  readonly figure: string;
  readonly bare: number | null;
  readonly codecast: number | null;
  readonly ratio: number | null;
  /** Highest ratio the issue accepts; undefined where it sets none. */
  readonly target?: number;
  readonly met?: boolean;
}

const show = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '-' : v.toFixed(digits));

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatBurstTable(results: readonly BurstResult[]): string {
  if (results.length === 0) return '';
  const rows = results.map((r) => [
    r.target,
    r.transport,
    String(r.subscribers),
    `${r.connect.connected}${r.connect.failed ? ` (${r.connect.failed} failed)` : ''}`,
    show(r.connect.ms, 0),
    show(r.kbPerConnection, 1),
    show(r.heapKbPerConnection, 1),
    show(r.summary.p50Ms),
    show(r.summary.p99Ms),
    show(r.summary.lastMs),
    show(r.summary.publishP50Ms),
    show(r.summary.cpuPerCodeMs, 0),
    show(r.summary.cpuPerDeliveryUs, 2),
    r.summary.allDelivered ? 'yes' : `no (${r.summary.missing} missing)`,
  ]);
  return [
    `One code at a time to N subscribers; medians over ${results[0]?.codes.filter((c) => !c.warmup).length ?? 0} codes per server (ms unless noted). Memory per connection read after a full GC.`,
    table(
      [
        'server',
        'transport',
        'N',
        'connected',
        'connect ms',
        'RSS KB/conn',
        'heap KB/conn',
        'p50',
        'p99',
        'last',
        'publish p50',
        'cpu/code ms',
        'µs/delivery',
        'every code to everyone',
      ],
      rows,
    ),
  ].join('\n');
}

/** codecast against the bare broadcaster of the same transport and size, with the issue's targets. */
export function comparisons(results: readonly BurstResult[]): Comparison[] {
  const out: Comparison[] = [];
  for (const cc of results.filter((r) => r.target.startsWith('codecast'))) {
    const bare = results.find((r) => r.target === `bare-${cc.transport}` && r.subscribers === cc.subscribers && r.round === cc.round);
    if (!bare) continue;
    const add = (figure: string, b: number | null, c: number | null, target?: number) => {
      const ratio = b === null || c === null || b === 0 ? null : round(c / b, 2);
      out.push({
        round: cc.round ?? 1,
        transport: cc.transport,
        subscribers: cc.subscribers,
        figure,
        bare: b,
        codecast: c,
        ratio,
        ...(target === undefined ? {} : { target, met: ratio !== null && ratio <= target }),
      });
    };
    const vs = cc.target === 'codecast' ? '' : ` [${cc.target}]`;
    add(`time to last subscriber (ms)${vs}`, bare.summary.lastMs, cc.summary.lastMs, cc.transport === 'socketio' ? 1.1 : 1.15);
    add(`p50 delivery (ms)${vs}`, bare.summary.p50Ms, cc.summary.p50Ms);
    add(`RSS per connection (KB)${vs}`, bare.kbPerConnection, cc.kbPerConnection, 1.2);
    add(`heap per connection (KB)${vs}`, bare.heapKbPerConnection, cc.heapKbPerConnection);
    add(`connect all ${cc.subscribers} (ms)${vs}`, round(bare.connect.ms, 0), round(cc.connect.ms, 0), 1.5);
    add(`server CPU per delivery (µs)${vs}`, bare.summary.cpuPerDeliveryUs, cc.summary.cpuPerDeliveryUs);
    add(`publish answered, p50 (ms)${vs}`, bare.summary.publishP50Ms, cc.summary.publishP50Ms);
  }
  return out;
}

/** With --repeat: the median ratio of each figure over the rounds. */
export function medianRatios(rows: readonly Comparison[]): Comparison[] {
  const groups = new Map<string, Comparison[]>();
  for (const r of rows) {
    const key = `${r.transport} ${r.subscribers} ${r.figure}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out: Comparison[] = [];
  for (const group of groups.values()) {
    const first = group[0] as Comparison;
    const mid = (values: (number | null)[]) => median(values);
    const ratio = mid(group.map((g) => g.ratio));
    out.push({
      ...first,
      round: 0,
      bare: mid(group.map((g) => g.bare)),
      codecast: mid(group.map((g) => g.codecast)),
      ratio,
      ...(first.target === undefined ? {} : { met: ratio !== null && ratio <= first.target }),
    });
  }
  return out;
}

export function formatComparisons(rows: readonly Comparison[]): string {
  return [
    'codecast against the bare broadcaster of the same transport, same run (ratio = codecast / bare).',
    table(
      ['transport', 'figure', 'bare', 'codecast', 'ratio', 'target', 'met'],
      rows.map((r) => [
        `${r.transport} ${r.subscribers}${rows.some((x) => x.round > 1) ? ` #${r.round}` : ''}`,
        r.figure,
        show(r.bare, 2),
        show(r.codecast, 2),
        show(r.ratio, 2),
        r.target === undefined ? '' : `≤ ${r.target.toFixed(2)}`,
        r.met === undefined ? '' : r.met ? 'yes' : 'NO',
      ]),
    ),
  ].join('\n');
}

export function formatSustained(r: SustainedResult): string {
  const rss = (kb: number | null) => (kb === null ? '-' : `${(kb / 1024).toFixed(1)} MB`);
  return [
    `Sustained: ${r.rate} codes/s for ${r.seconds} s, after ${r.warmupSeconds} s of warm-up at that rate, to ${r.subscribers} ${r.transport} subscribers (${r.target}).`,
    `  published ${r.published} with the warm-up (${r.publishErrors} refused), deliveries lost ${r.lost} (${r.lostInWarmup} of them in the warm-up), slow-consumer closes ${r.slowConsumerCloses ?? '-'}, ` +
      `client closes ${JSON.stringify(r.clientCloses)}`,
    `  latency p50 ${show(r.p50Ms, 2)} ms, p99 ${show(r.p99Ms, 2)} ms, max ${show(r.maxMs, 2)} ms; publish answered p50 ${show(r.publishP50Ms, 2)} ms, p99 ${show(r.publishP99Ms, 2)} ms`,
    `  RSS connected ${rss(r.rss.connectedKb)}, middle third ${rss(r.rss.middleThirdKb)}, last third ${rss(r.rss.lastThirdKb)}: ` +
      `${r.rss.flat === null ? 'unknown' : r.rss.flat ? 'flat (within 5 %)' : 'NOT flat'}; heap after a full GC ${rss(r.heapAfterGcKb.start)} at the start, ` +
      `${rss(r.heapAfterGcKb.end)} at the end; server CPU ${r.cpuMs ?? '-'} ms${r.nodes > 1 ? ` (all ${r.nodes} nodes)` : ''}`,
    ...(r.byNode
      ? [
          `  by node: node 0 (publishes) p50 ${show(r.byNode.publishing.p50Ms, 2)} ms, p99 ${show(r.byNode.publishing.p99Ms, 2)} ms, max ${show(r.byNode.publishing.maxMs, 1)} ms; ` +
            `other nodes p50 ${show(r.byNode.others.p50Ms, 2)} ms, p99 ${show(r.byNode.others.p99Ms, 2)} ms, max ${show(r.byNode.others.maxMs, 1)} ms`,
        ]
      : []),
    `  server CPU by process: ${r.cpuMsByProcess.map((ms) => (ms === null ? '-' : `${ms} ms`)).join(', ')} over ${r.cpuSeconds} s; load clients ${r.clientCpuMs ?? '-'} ms; bytes written ${r.bytesWritten ?? '-'}` +
      (r.bytesWritten === null
        ? ''
        : ` (${show(r.bytesWritten / Math.max(1, measuredCodes(r) * r.subscribers), 0)} B per delivery of the measured codes)`),
    ...(r.backend ? [formatBackend(r.backend)] : []),
    table(
      ['from s', 'codes', 'lost', 'p50', 'p99', 'max', 'publish p50', 'publish p99', 'RSS MB', 'heap MB'],
      r.intervals.map((i) => [
        String(i.fromS),
        String(i.codes),
        String(i.lost),
        show(i.p50, 2),
        show(i.p99, 2),
        show(i.max, 2),
        show(i.publishP50, 2),
        show(i.publishP99, 2),
        i.rssKb === null ? '-' : (i.rssKb / 1024).toFixed(1),
        i.heapUsedKb === null ? '-' : (i.heapUsedKb / 1024).toFixed(1),
      ]),
    ),
  ].join('\n');
}

const mb = (kb: number | null | undefined) => (kb === null || kb === undefined ? '-' : `${(kb / 1024).toFixed(1)} MB`);

export function formatAttack(r: AttackResult): string {
  const s = r.sustained;
  const a = r.attacker;
  const phases = s.phases ?? [];
  const cutOff =
    a === null
      ? 'unknown (no report from the attacker)'
      : a.firstCutMs === null
        ? 'NO'
        : `yes, first after ${(a.firstCutMs / 1000).toFixed(2)} s`;
  return [
    `Attack ${r.attack}: ${r.rate} codes/s to ${r.subscribers} ${r.transport} subscribers (${r.target}); ${r.baselineSeconds} s before, ${r.attackSeconds} s of attack, ${r.afterSeconds} s after.`,
    `  deliveries lost ${s.lost} (${s.lostInWarmup} in the warm-up), publishes refused ${s.publishErrors}, slow-consumer closes ${s.slowConsumerCloses ?? '-'}, subscribers' closes ${JSON.stringify(s.clientCloses)}`,
    table(
      [
        'phase',
        'seconds',
        'codes',
        'lost',
        'p50',
        'p99',
        'max',
        'publish p50',
        'publish p99',
        'publish max',
        '/healthz p50',
        '/healthz p99',
        '/healthz max',
        'probes failed',
      ],
      phases.map((p) => {
        const h = r.healthz.find((x) => x.phase === p.name);
        return [
          p.name,
          `${p.fromS}-${p.toS}`,
          String(p.codes),
          String(p.lost),
          show(p.p50, 2),
          show(p.p99, 2),
          show(p.max, 2),
          show(p.publishP50, 2),
          show(p.publishP99, 2),
          show(p.publishMax, 2),
          show(h?.p50, 2),
          show(h?.p99, 2),
          show(h?.max, 2),
          h ? `${h.failures}/${h.probes}` : '-',
        ];
      }),
    ),
    `  server RSS before ${mb(r.rssKb.before)}, peak ${mb(r.rssKb.peak)}, after ${mb(r.rssKb.after)}; open files before ${r.fds.before ?? '-'}, peak ${r.fds.peak ?? '-'}, after ${r.fds.after ?? '-'}`,
    a === null
      ? '  attacker: no report'
      : `  attacker: sent ${a.sent}, established ${a.established}, answers ${a.answers}, peak held ${a.peakHeld}; cut off: ${cutOff}` +
        `; cuts ${JSON.stringify(a.cut)}; refused ${JSON.stringify(a.refused)}; lifetime of cut connections p50 ${a.cutLifetimeMs.p50 ?? '-'} ms, max ${a.cutLifetimeMs.max ?? '-'} ms`,
  ].join('\n');
}

export function formatSoak(r: SoakResult): string {
  const f = r.final;
  const v = r.verdict;
  const periods = r.periods.length;
  return [
    `Soak: ${r.subscribers} ${r.transport} subscribers in ${r.clientProcesses} client processes, ${r.rate} codes/s for ${r.minutes} min, ` +
      `${Math.round(r.reconnectFraction * 100)} % cut and resumed with their last id every ${r.periodSeconds} s (${r.target}).`,
    `  connected ${r.connect.connected} (${r.connect.failed} failed) in ${r.connect.ms.toFixed(0)} ms; published ${r.published} (${r.publishErrors} refused, answered p50 ${show(r.publishP50Ms, 2)} ms, p99 ${show(r.publishP99Ms, 2)} ms), last id ${r.lastId ?? '-'}`,
    ...r.periods.map((p) => `  ${formatPeriodLine(p, periods)}`),
    `  at the end: ${f.reconnects} reconnections (${f.churned} cuts made), ids skipped ${f.lost}, repeated ${f.duplicated}, not reached ${f.behind} (${f.behindSubscribers} subscribers), resets ${f.resets}; ` +
      `drained ${r.drainedMs === null ? 'NOT' : `in ${r.drainedMs} ms`}; server closes ${JSON.stringify(f.closes)}; refused on return ${JSON.stringify(f.reopenErrors)}`,
    `  nothing lost: ${v.nothingLost ? 'yes' : 'NO'}`,
    `  RSS: first period after warm-up ${mb(v.rss.firstKb)}, last ${mb(v.rss.lastKb)}, ` +
      `${v.rss.growth === null ? 'unknown' : `${(v.rss.growth * 100).toFixed(1)} %`}: ${v.rss.flat === null ? 'unknown' : v.rss.flat ? 'flat (within 10 %)' : 'NOT flat'}`,
    `  open files: baseline ${r.baseline.fds ?? '-'}, connected ${r.connected.fds ?? '-'}, after the clients left ${r.after.fds ?? '-'}: ` +
      `${v.fdsBack === null ? 'unknown' : v.fdsBack ? `back to the baseline (in ${r.after.fdsSettledMs} ms)` : 'NOT back to the baseline'}`,
  ].join('\n');
}

/** A cluster's burst against one node on the same PostgreSQL and Redis, and one node on SQLite, same run. */
export interface ClusterComparison {
  readonly round: number;
  readonly transport: string;
  readonly subscribers: number;
  readonly nodes: number;
  readonly figure: string;
  readonly sqlite: number | null;
  readonly oneNode: number | null;
  readonly cluster: number | null;
  /** cluster ÷ one node on PostgreSQL and Redis. */
  readonly ratio: number | null;
  readonly target?: number;
  readonly met?: boolean;
}

/** One codecast node on SQLite: `codecast`, or `codecast@<dir>` for another build. */
export const isSqliteNode = (target: string): boolean => target === 'codecast' || target.startsWith('codecast@');

/** The issue's ceiling on time to the last subscriber, N nodes against one (issue 11). */
export const CLUSTER_LAST_RATIO = 1.3;

export function clusterComparisons(results: readonly BurstResult[]): ClusterComparison[] {
  const out: ClusterComparison[] = [];
  for (const cl of results.filter((r) => r.nodes > 1)) {
    const same = (r: BurstResult) => r.transport === cl.transport && r.subscribers === cl.subscribers && r.round === cl.round;
    const one = results.find((r) => same(r) && r.target === 'codecast-pg-redis');
    const sqlite = results.find((r) => same(r) && isSqliteNode(r.target));
    const add = (figure: string, pick: (r: BurstResult) => number | null, target?: number) => {
      const o = one ? pick(one) : null;
      const c = pick(cl);
      const ratio = o === null || c === null || o === 0 ? null : round(c / o, 2);
      out.push({
        round: cl.round ?? 1,
        transport: cl.transport,
        subscribers: cl.subscribers,
        nodes: cl.nodes,
        figure,
        sqlite: sqlite ? pick(sqlite) : null,
        oneNode: o,
        cluster: c,
        ratio,
        ...(target === undefined ? {} : { target, met: ratio !== null && ratio <= target }),
      });
    };
    add('time to last subscriber (ms)', (r) => r.summary.lastMs, CLUSTER_LAST_RATIO);
    add('p50 delivery (ms)', (r) => r.summary.p50Ms);
    add('p99 delivery (ms)', (r) => r.summary.p99Ms);
    add(`connect all ${cl.subscribers} (ms)`, (r) => round(r.connect.ms, 0));
    add('RSS per connection (KB), all nodes', (r) => r.kbPerConnection);
    add('heap per connection (KB), all nodes', (r) => r.heapKbPerConnection);
    add('server CPU per code (ms), all nodes', (r) => r.summary.cpuPerCodeMs);
    add('server CPU per delivery (µs), all nodes', (r) => r.summary.cpuPerDeliveryUs);
    add('publish answered, p50 (ms)', (r) => r.summary.publishP50Ms);
  }
  return out;
}

export function formatClusterComparisons(rows: readonly ClusterComparison[]): string {
  if (rows.length === 0) return '';
  return [
    'The cluster against one node on the same PostgreSQL and Redis (ratio = cluster / one node), and one node on SQLite, same run.',
    table(
      ['run', 'figure', 'SQLite, 1 node', 'PG+Redis, 1 node', 'PG+Redis, N nodes', 'ratio', 'target', 'met'],
      rows.map((r) => [
        `${r.transport} ${r.subscribers}, ${r.nodes} nodes${rows.some((x) => x.round > 1) ? ` #${r.round}` : ''}`,
        r.figure,
        show(r.sqlite, 2),
        show(r.oneNode, 2),
        show(r.cluster, 2),
        show(r.ratio, 2),
        r.target === undefined ? '' : `≤ ${r.target.toFixed(2)}`,
        r.met === undefined ? '' : r.met ? 'yes' : 'NO',
      ]),
    ),
  ].join('\n');
}

/** Delivery on the node the publishes go to against the other nodes: what crossing Redis adds. */
export function formatNodeGroups(results: readonly BurstResult[]): string {
  const rows = results.filter((r) => r.summary.byNode);
  if (rows.length === 0) return '';
  return [
    'By node (medians over the codes, ms): subscribers of node 0, which took the publishes, against those of the other nodes.',
    table(
      ['server', 'run', 'node 0 p50', 'node 0 p99', 'node 0 last', 'others p50', 'others p99', 'others last', 'added (last)'],
      rows.map((r) => {
        const g = r.summary.byNode as NonNullable<BurstResult['summary']['byNode']>;
        const added = g.others.lastMs === null || g.publishing.lastMs === null ? null : g.others.lastMs - g.publishing.lastMs;
        return [
          r.target,
          `${r.transport} ${r.subscribers}${r.round && r.round > 1 ? ` #${r.round}` : ''}`,
          show(g.publishing.p50Ms),
          show(g.publishing.p99Ms),
          show(g.publishing.lastMs),
          show(g.others.p50Ms),
          show(g.others.p99Ms),
          show(g.others.lastMs),
          show(added),
        ];
      }),
    ),
  ].join('\n');
}

/** The three figures issue 11 sets for `--nodes 3`, each with what was measured and whether it passes. */
export function formatClusterTargets(bursts: readonly BurstResult[], sustained: readonly SustainedResult[]): string {
  const rows: string[][] = [];
  const last = clusterComparisons(bursts).filter((c) => c.figure === 'time to last subscriber (ms)');
  for (const c of last) {
    if (c.oneNode === null) continue;
    rows.push([
      `(1) time to the last of ${c.subscribers} (${c.transport}) over ${c.nodes} nodes ≤ ${CLUSTER_LAST_RATIO}× one node (PG+Redis)`,
      `${show(c.ratio, 2)}× (${show(c.cluster, 0)} ms vs ${show(c.oneNode, 0)} ms; SQLite 1 node ${show(c.sqlite, 0)} ms)`,
      c.met ? 'pass' : 'FAIL',
    ]);
  }
  for (const s of sustained.filter((r) => r.nodes > 1)) {
    const run = `${s.rate} codes/s to ${s.subscribers} (${s.transport}) over ${s.nodes} nodes for ${s.seconds} s`;
    rows.push([
      `(2) ${run}: 0 lost`,
      `${s.lost} lost (${s.lostInWarmup} in the warm-up), ${s.publishErrors} refused`,
      s.lost === 0 && s.publishErrors === 0 ? 'pass' : 'FAIL',
    ]);
    rows.push([
      `(2) ${run}: p99 < 50 ms`,
      `p99 ${show(s.p99Ms, 1)} ms (p50 ${show(s.p50Ms, 1)}, max ${show(s.maxMs, 0)})`,
      s.p99Ms !== null && s.p99Ms < 50 ? 'pass' : 'FAIL',
    ]);
    rows.push([
      `(3) publish answered, median ≤ 10 ms (that run, node 0)`,
      `p50 ${show(s.publishP50Ms, 2)} ms (p99 ${show(s.publishP99Ms, 1)})`,
      s.publishP50Ms !== null && s.publishP50Ms <= 10 ? 'pass' : 'FAIL',
    ]);
  }
  for (const b of bursts.filter((r) => r.nodes > 1)) {
    rows.push([
      `(3) publish answered, median ≤ 10 ms (${b.subscribers} connected over ${b.nodes} nodes, one code at a time)`,
      `p50 ${show(b.summary.publishP50Ms, 2)} ms (p99 ${show(b.summary.publishP99Ms, 1)})`,
      b.summary.publishP50Ms !== null && b.summary.publishP50Ms <= 10 ? 'pass' : 'FAIL',
    ]);
  }
  if (rows.length === 0) return '';
  return ['Issue 11 targets:', table(['target', 'measured', 'result'], rows)].join('\n');
}

/** Codes accepted in the measured seconds of a sustained run (the warm-up left out). */
export const measuredCodes = (r: SustainedResult): number => r.intervals.reduce((n, i) => n + i.codes, 0);

/** Redis and PostgreSQL work per publish (sustained cluster runs). */
export function formatBackend(w: BackendWork): string {
  const lines = [`  per publish, over ${w.publishes} measured publishes:`];
  if (w.redis) {
    const calls = Object.entries(w.redis.callsPerPublish)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    lines.push(
      `    Redis (the whole server): ${w.redis.commandsPerPublish} commands (${calls}), ${w.redis.commandUsPerPublish} µs in commands, ` +
        `${w.redis.cpuUsPerPublish} µs of its CPU, ${w.redis.bytesInPerPublish} B in, ${w.redis.bytesOutPerPublish} B out`,
    );
  }
  if (w.postgres) {
    lines.push(
      `    PostgreSQL (the run's database): ${w.postgres.commitsPerPublish} commits, ${w.postgres.rowsWrittenPerPublish} rows written, ` +
        `${w.postgres.rowsReadPerPublish} rows read, ${w.postgres.backendCpuUsPerPublish} µs of its backends' CPU`,
    );
  }
  return lines.join('\n');
}
