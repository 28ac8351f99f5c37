// Reads a V8 CPU profile (`node --cpu-prof`) and sums time by function, self
// and total, optionally over a window of the run (µs on the profile's clock,
// which is CLOCK_MONOTONIC, the harness's `now()` × 1000).
//
//   node --import tsx bench/profile.ts FILE.cpuprofile [--from µs] [--to µs] [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileRow {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  readonly totalMs: number;
  readonly selfPct: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly windowMs: number;
  /** Sampled time the process was running JavaScript, GC or native code (not idle). */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly gcMs: number;
  readonly functions: readonly ProfileRow[];
  /** Self time by source file or package. */
  readonly files: readonly { readonly file: string; readonly selfMs: number; readonly selfPct: number }[];
}

function where(url: string, line: number): string {
  if (url === '') return '';
  const short = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/(dist|src|bench)\//, '$1/');
  return `${short}:${line + 1}`;
}

function fileOf(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1] as string;
  return url.replace(/^file:\/\//, '').replace(/^.*\/(dist|src|bench)\//, '$1/');
}

export function summarizeProfile(file: string, options: { fromUs?: number; toUs?: number; top?: number } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const keyOf = (node: ProfileNode) =>
    `${node.callFrame.functionName || '(anonymous)'}\u0000${where(node.callFrame.url, node.callFrame.lineNumber)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const files = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  let busy = 0;
  const from = options.fromUs ?? -Infinity;
  const to = options.toUs ?? Infinity;
  let t = profile.startTime;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    // A sample stands for the time until the next one.
    const us = timeDeltas[i + 1] ?? 0;
    const node = byId.get(samples[i] as number);
    if (!node) continue;
    const name = node.callFrame.functionName;
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name === '(garbage collector)') gc += us;
    busy += us;
    const key = keyOf(node);
    self.set(key, (self.get(key) ?? 0) + us);
    const f = fileOf(node.callFrame.url);
    files.set(f, (files.get(f) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = keyOf(byId.get(id) as ProfileNode);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const top = options.top ?? 25;
  const pct = (us: number) => (busy === 0 ? 0 : Math.round((1000 * us) / busy) / 10);
  const functions = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => {
      const [name, at] = key.split('\u0000') as [string, string];
      return {
        name,
        where: at,
        selfMs: Math.round(us / 100) / 10,
        totalMs: Math.round((total.get(key) ?? 0) / 100) / 10,
        selfPct: pct(us),
      };
    });
  return {
    file,
    windowMs: Math.round((Math.min(to, profile.endTime) - Math.max(from, profile.startTime)) / 1000),
    busyMs: Math.round(busy / 1000),
    idleMs: Math.round(idle / 1000),
    gcMs: Math.round(gc / 1000),
    functions,
    files: [...files.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([f, us]) => ({ file: f, selfMs: Math.round(us / 100) / 10, selfPct: pct(us) })),
  };
}

/** Functions whose total (inclusive) time is largest, for the call paths of interest. */
export function totalsMatching(file: string, pattern: RegExp, options: { fromUs?: number; toUs?: number } = {}): ProfileRow[] {
  const summary = summarizeProfile(file, { ...options, top: 100_000 });
  return summary.functions.filter((f) => pattern.test(`${f.name} ${f.where}`)).sort((a, b) => b.totalMs - a.totalMs);
}

export function formatProfile(summary: ProfileSummary): string {
  const lines = [
    `${summary.file}`,
    `window ${summary.windowMs} ms: busy ${summary.busyMs} ms (GC ${summary.gcMs} ms), idle ${summary.idleMs} ms`,
    '',
    '  self ms  self %  total ms  function                         where',
  ];
  for (const f of summary.functions) {
    lines.push(
      `${f.selfMs.toFixed(1).padStart(9)} ${f.selfPct.toFixed(1).padStart(6)}% ${f.totalMs.toFixed(1).padStart(9)}  ${f.name.slice(0, 32).padEnd(32)} ${f.where}`,
    );
  }
  lines.push('', '  self ms  self %  file or package');
  for (const f of summary.files) lines.push(`${f.selfMs.toFixed(1).padStart(9)} ${f.selfPct.toFixed(1).padStart(6)}%  ${f.file}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string' }, total: { type: 'string' } },
  });
  for (const file of positionals) {
    const window = {
      ...(values.from ? { fromUs: Number(values.from) } : {}),
      ...(values.to ? { toUs: Number(values.to) } : {}),
    };
    if (values.total) {
      for (const f of totalsMatching(file, new RegExp(values.total), window).slice(0, Number(values.top ?? 40))) {
        console.log(`${f.totalMs.toFixed(1).padStart(9)} ${f.selfMs.toFixed(1).padStart(9)}  ${f.name} ${f.where}`);
      }
    } else {
      console.log(formatProfile(summarizeProfile(file, { ...window, top: Number(values.top ?? 25) })));
    }
  }
}
