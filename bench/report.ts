import type { AttackResult } from './attack.js';
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
      `${rss(r.heapAfterGcKb.end)} at the end; server CPU ${r.cpuMs ?? '-'} ms`,
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
