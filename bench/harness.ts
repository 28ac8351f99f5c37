import { ClientPool, type OpenResult } from './client-pool.js';
import { backendWork, type BackendSample, type BackendWork } from './backend-work.js';
import { cpuMs, cpuMsOf, median, now, percentile, round, rssKbOf, sleep, writtenBytesOf } from './measure.js';
import type { SubscriberSpec, Transport } from './protocol.js';
import type { Target } from './targets.js';

export type Mix = Transport | 'mixed';
export type Progress = (line: string) => void;

export interface LoadOptions {
  readonly transport: Mix;
  readonly subscribers: number;
  /** Subscribers per client process at most. */
  readonly perProcess: number;
  /** Handshakes in flight per client process at most. */
  readonly concurrency: number;
}

export interface BurstOptions extends LoadOptions {
  /** Codes measured. */
  readonly codes: number;
  /** Codes sent first and left out of the summary (JIT, first-write paths). */
  readonly warmup: number;
  /** Pause between one code's last delivery and the next publish. */
  readonly intervalMs: number;
  /** How long to wait after connecting before reading RSS. */
  readonly settleMs: number;
}

export interface ConnectFigures extends OpenResult {
  /** Server CPU spent while its subscribers connected. */
  readonly cpuMs: number | null;
}

export interface CodeFigures {
  readonly k: number;
  readonly warmup: boolean;
  readonly status: number;
  readonly delivered: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  /** Time to the last subscriber; null when some subscriber never got the code. */
  readonly last: number | null;
  readonly publishMs: number;
  readonly cpuMs: number | null;
  readonly byTransport?: Partial<Record<Transport, { delivered: number; p50: number | null; p99: number | null; max: number | null }>>;
  /** A cluster run: the subscribers of the node the publish went to, and those of the other nodes. */
  readonly byNode?: NodeGroups<{ delivered: number; p50: number | null; p99: number | null; max: number | null; last: number | null }>;
}

/** Figures split by where the subscriber is connected: the node publishes go to, or any other (cluster runs). */
export interface NodeGroups<T> {
  readonly publishing: T;
  readonly others: T;
}

/** Whether the subscribers are spread over several nodes. */
function isCluster(specs: readonly SubscriberSpec[]): boolean {
  return specs.some((spec) => spec.node !== undefined && spec.node > 0);
}

export interface BurstResult {
  readonly kind: 'burst';
  /** Which repetition of the run (--repeat) this was. */
  round?: number;
  readonly target: string;
  readonly transport: Mix;
  readonly subscribers: number;
  readonly clientProcesses: number;
  readonly connect: ConnectFigures;
  /** Server RSS before connecting and once connected (both right after a full GC), and after the codes. */
  readonly rssKb: { readonly before: number | null; readonly connected: number | null; readonly after: number | null };
  readonly kbPerConnection: number | null;
  /** V8 heap in use after a full GC, before and once connected; undefined where the harness could not reach the inspector. */
  readonly heapUsedKb: { readonly before: number | null; readonly connected: number | null };
  readonly heapKbPerConnection: number | null;
  readonly codes: readonly CodeFigures[];
  readonly summary: {
    /** Every measured code reached every subscriber. */
    readonly allDelivered: boolean;
    readonly missing: number;
    readonly lastMs: number | null;
    readonly p50Ms: number | null;
    readonly p99Ms: number | null;
    readonly maxMs: number | null;
    readonly publishP50Ms: number | null;
    readonly publishP99Ms: number | null;
    readonly cpuPerCodeMs: number | null;
    readonly cpuPerDeliveryUs: number | null;
    /** A cluster run: medians over the measured codes, by node group. */
    readonly byNode?: NodeGroups<{ readonly p50Ms: number | null; readonly p99Ms: number | null; readonly lastMs: number | null }>;
  };
  /** Server processes measured (a cluster's nodes: CPU, RSS and heap are their sums). */
  readonly nodes: number;
  readonly clientCloses: Record<string, number>;
  readonly serverStats: Record<string, unknown> | undefined;
  /** When the measured codes were published, in µs of the monotonic clock (for the profile). */
  readonly windowUs: { readonly from: number; readonly to: number };
  profile?: string;
}

/** Subscriber specs in pool order; a mix cycles sse, ws, socketio. */
export function specsFor(target: Target, mix: Mix, count: number): SubscriberSpec[] {
  const order: readonly Transport[] = mix === 'mixed' ? ['sse', 'ws', 'socketio'] : [mix];
  const specs: SubscriberSpec[] = [];
  for (let i = 0; i < count; i++) {
    const transport = order[i % order.length] as Transport;
    specs.push(target.subscriber(transport, i));
  }
  return specs;
}

let nextCode = 1;
/** Code numbers are unique in the harness process, so no two publishes share a marker. */
export function takeCodeNumbers(count: number): number {
  const first = nextCode;
  nextCode += count;
  return first;
}

interface Latencies {
  readonly delivered: number;
  readonly sorted: Float64Array;
}

function latenciesOf(times: Float64Array, t0: number, only?: (i: number) => boolean): Latencies {
  const out = new Float64Array(times.length);
  let n = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i] as number;
    if (t !== 0 && (!only || only(i))) out[n++] = t - t0;
  }
  const sorted = out.subarray(0, n).sort();
  return { delivered: n, sorted };
}

function figures(lat: Latencies) {
  return {
    delivered: lat.delivered,
    p50: round(percentile(lat.sorted, 50), 2),
    p99: round(percentile(lat.sorted, 99), 2),
    max: round(lat.sorted.length ? (lat.sorted[lat.sorted.length - 1] as number) : null, 2),
  };
}

async function openAll(
  pool: ClientPool,
  target: Target,
  label: string,
  progress: Progress,
  part?: { readonly index: number; readonly of: number },
): Promise<OpenResult> {
  const opened = await pool.open(
    target.host,
    target.port,
    concurrencyOf(pool),
    (connected, failed) => progress(`${label}: connecting ${connected} open, ${failed} failed`),
    part,
  );
  progress(
    `${label}: ${opened.connected} connected${part && part.of > 1 ? ` (part ${part.index + 1} of ${part.of})` : ''}, ${opened.ms.toFixed(0)} ms` +
      (opened.failed ? `, ${opened.failed} failed: ${JSON.stringify(opened.errors)}` : ''),
  );
  return opened;
}

/** Opening in this many slices, alternating between servers; each server's time is the sum of its slices. */
const CONNECT_SLICES = 5;

const poolConcurrency = new WeakMap<ClientPool, number>();
const concurrencyOf = (pool: ClientPool) => poolConcurrency.get(pool) ?? 64;

function startPool(target: Target, options: LoadOptions): { pool: ClientPool; specs: SubscriberSpec[] } {
  const specs = specsFor(target, options.transport, options.subscribers);
  const pool = ClientPool.start(specs, options.perProcess);
  poolConcurrency.set(pool, options.concurrency);
  return { pool, specs };
}

/**
 * Heap in use and RSS once garbage is gone: a full GC, a second after, a
 * second full GC, then the readings. V8 hands freed pages back to the
 * system on a background thread after a collection; the second GC and the
 * pause let that finish before RSS is read.
 */
async function settledMemory(target: Target): Promise<{ heapUsedKb: number | null; rssKb: number | null }> {
  await target.collectGarbage();
  await sleep(1000);
  const heapUsedKb = (await target.collectGarbage())?.heapUsedKb ?? null;
  return { heapUsedKb, rssKb: rssKbOf(target.pids) };
}

/**
 * Opens N subscribers, publishes codes one at a time (each after the previous
 * one reached everybody, or its timeout) and measures every delivery.
 */
export async function runBurst(target: Target, options: BurstOptions, progress: Progress): Promise<BurstResult> {
  return (await runBursts([target], options, progress))[0] as BurstResult;
}

interface BurstState {
  readonly target: Target;
  readonly label: string;
  readonly pool: ClientPool;
  readonly specs: readonly SubscriberSpec[];
  connect?: ConnectFigures;
  rssBefore: number | null;
  rssConnected: number | null;
  heapBefore: number | null;
  heapConnected: number | null;
  readonly codes: CodeFigures[];
  windowFrom: number;
}

/**
 * The same burst against several servers at once, each with its own N
 * subscribers and client processes: the servers take turns code by code (in
 * alternating order), so that a machine shared with other work weighs on all
 * of them alike and their ratios hold still.
 */
export async function runBursts(targets: readonly Target[], options: BurstOptions, progress: Progress): Promise<BurstResult[]> {
  const states: BurstState[] = [];
  try {
    for (const target of targets) {
      await target.prepare(options.subscribers);
      const { pool, specs } = startPool(target, options);
      const label = `${target.name} ${options.transport} ${options.subscribers}`;
      states.push({
        target,
        label,
        pool,
        specs,
        rssBefore: null,
        rssConnected: null,
        heapBefore: null,
        heapConnected: null,
        codes: [],
        windowFrom: 0,
      });
    }
    await sleep(500);
    for (const state of states) {
      const memory = await settledMemory(state.target);
      state.heapBefore = memory.heapUsedKb;
      state.rssBefore = memory.rssKb;
    }
    const slices = states.length > 1 ? CONNECT_SLICES : 1;
    for (let index = 0; index < slices; index++) {
      for (const state of index % 2 === 0 ? states : [...states].reverse()) {
        const cpu0 = cpuMsOf(state.target.pids);
        const part = await openAll(state.pool, state.target, state.label, progress, { index, of: slices });
        const cpu1 = cpuMsOf(state.target.pids);
        const before = state.connect;
        state.connect = {
          connected: part.connected,
          failed: part.failed,
          ms: (before?.ms ?? 0) + part.ms,
          errors: { ...before?.errors, ...part.errors },
          cpuMs: cpu0 === null || cpu1 === null || (before && before.cpuMs === null) ? null : (before?.cpuMs ?? 0) + (cpu1 - cpu0),
        };
      }
    }
    await sleep(options.settleMs);
    for (const state of states) {
      const memory = await settledMemory(state.target);
      state.heapConnected = memory.heapUsedKb;
      state.rssConnected = memory.rssKb;
    }
    const total = options.warmup + options.codes;
    const timeoutMs = Math.max(10_000, options.subscribers * 2);
    for (let n = 0; n < total; n++) {
      for (const state of n % 2 === 0 ? states : [...states].reverse()) {
        if (n === options.warmup || n === 0) state.windowFrom = now();
        const code = await measureCode(state, n, options, timeoutMs);
        state.codes.push(code);
        progress(
          `${state.label}: code ${n + 1}/${total}${code.warmup ? ' (warm-up)' : ''}: ${code.delivered}/${state.connect?.connected} delivered` +
            `, p50 ${code.p50} p99 ${code.p99} last ${code.last ?? '-'} ms, publish ${code.publishMs} ms, cpu ${code.cpuMs ?? '-'} ms`,
        );
        await sleep(options.intervalMs);
      }
    }
    const windowTo = now();
    const results: BurstResult[] = [];
    for (const state of states) results.push(await summarize(state, options, windowTo));
    return results;
  } finally {
    for (const state of states) await state.pool.close();
  }
}

async function measureCode(state: BurstState, n: number, options: BurstOptions, timeoutMs: number): Promise<CodeFigures> {
  const { target, pool, specs } = state;
  const k = takeCodeNumbers(1);
  const cpu0 = cpuMsOf(target.pids);
  let t0 = now();
  const answer = await target.publish(k, (t) => (t0 = t));
  const { times } = await pool.waitCode(k, timeoutMs);
  const cpu1 = cpuMsOf(target.pids);
  const f = figures(latenciesOf(times, t0));
  let byTransport: CodeFigures['byTransport'];
  if (options.transport === 'mixed') {
    byTransport = {};
    for (const transport of ['sse', 'ws', 'socketio'] as const) {
      byTransport[transport] = figures(latenciesOf(times, t0, (i) => (specs[i] as SubscriberSpec).transport === transport));
    }
  }
  const everyone = f.delivered === state.connect?.connected;
  let byNode: CodeFigures['byNode'];
  if (isCluster(specs)) {
    const group = (test: (node: number) => boolean) => {
      const only = (i: number) => test((specs[i] as SubscriberSpec).node ?? 0);
      const g = figures(latenciesOf(times, t0, only));
      const size = specs.filter((_, i) => only(i)).length;
      return { ...g, last: g.delivered === size ? g.max : null };
    };
    byNode = { publishing: group((node) => node === 0), others: group((node) => node !== 0) };
  }
  return {
    k,
    warmup: n < options.warmup,
    status: answer.status,
    ...f,
    last: everyone ? f.max : null,
    publishMs: round(answer.ms, 2) as number,
    cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
    ...(byTransport ? { byTransport } : {}),
    ...(byNode ? { byNode } : {}),
  };
}

async function summarize(state: BurstState, options: BurstOptions, windowTo: number): Promise<BurstResult> {
  const { target, pool, codes } = state;
  const connect = state.connect as ConnectFigures;
  const rssAfter = rssKbOf(target.pids);
  const serverStats = await target.stats().catch(() => undefined);
  const { closes } = await pool.status();
  const measured = codes.filter((c) => !c.warmup);
  const cpu = measured.map((c) => c.cpuMs);
  const cpuKnown = cpu.every((c) => c !== null) && measured.length > 0;
  const cpuPerCode = cpuKnown ? (cpu as number[]).reduce((a, b) => a + b, 0) / measured.length : null;
  const publishSorted = measured.map((c) => c.publishMs).sort((a, b) => a - b);
  const missing = measured.reduce((sum, c) => sum + (connect.connected - c.delivered), 0);
  const { rssBefore, rssConnected, heapBefore, heapConnected } = state;
  const group = (pick: (c: CodeFigures) => { p50: number | null; p99: number | null; last: number | null } | undefined) => ({
    p50Ms: median(measured.map((c) => pick(c)?.p50 ?? null)),
    p99Ms: median(measured.map((c) => pick(c)?.p99 ?? null)),
    // A code some subscriber of the group missed has no "last": the median is over codes, as lastMs.
    lastMs: median(measured.map((c) => pick(c)?.last ?? null)),
  });
  const byNode = measured.some((c) => c.byNode)
    ? { publishing: group((c) => c.byNode?.publishing), others: group((c) => c.byNode?.others) }
    : undefined;
  return {
    kind: 'burst',
    target: target.name,
    nodes: target.nodeCount ?? 1,
    transport: options.transport,
    subscribers: options.subscribers,
    clientProcesses: pool.processes,
    connect,
    rssKb: { before: rssBefore, connected: rssConnected, after: rssAfter },
    kbPerConnection:
      rssBefore === null || rssConnected === null || connect.connected === 0
        ? null
        : round((rssConnected - rssBefore) / connect.connected, 2),
    heapUsedKb: { before: heapBefore, connected: heapConnected },
    heapKbPerConnection:
      heapBefore === null || heapConnected === null || connect.connected === 0
        ? null
        : round((heapConnected - heapBefore) / connect.connected, 2),
    codes,
    summary: {
      allDelivered: missing === 0 && connect.failed === 0,
      missing,
      lastMs: median(measured.map((c) => c.last)),
      p50Ms: median(measured.map((c) => c.p50)),
      p99Ms: median(measured.map((c) => c.p99)),
      maxMs: median(measured.map((c) => c.max)),
      publishP50Ms: round(percentile(publishSorted, 50), 2),
      publishP99Ms: round(percentile(publishSorted, 99), 2),
      cpuPerCodeMs: round(cpuPerCode, 1),
      cpuPerDeliveryUs: cpuPerCode === null || connect.connected === 0 ? null : round((cpuPerCode * 1000) / connect.connected, 2),
      ...(byNode ? { byNode } : {}),
    },
    clientCloses: closes,
    serverStats,
    windowUs: { from: Math.round(state.windowFrom * 1000), to: Math.round(windowTo * 1000) },
  };
}

export interface SustainedOptions extends LoadOptions {
  /** Codes per second. */
  readonly rate: number;
  readonly seconds: number;
  /**
   * Seconds published at the same rate before the measured `seconds`, left
   * out of the latency figures (not of the losses): the server compiles its
   * hot paths and sizes its heap in them, once per process.
   */
  readonly warmupSeconds: number;
  /** Width of the intervals latencies and RSS are reported over. */
  readonly intervalSeconds: number;
  /** How long to wait for the last codes after the last publish. */
  readonly drainMs: number;
  /** Stretches of the measured seconds reported apart (the attack mode's before, during and after). */
  readonly phases?: readonly { readonly name: string; readonly fromS: number; readonly toS: number }[];
  /** Called once, when the measured seconds begin (after the warm-up). */
  readonly onMeasuredStart?: () => void;
}

/** Delivery and publish latencies (ms) of the codes published in a stretch of a run. */
export interface DeliveryFigures {
  readonly fromS: number;
  readonly codes: number;
  /** Deliveries missing of these codes. */
  readonly lost: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly publishP50: number | null;
  readonly publishP99: number | null;
}

/** The figures of one stretch from its delivery and publish latencies (ms). */
function deliveryFigures(
  fromS: number,
  stretch: { readonly codes: number; readonly lost: number; readonly latencies: readonly number[]; readonly publish: readonly number[] },
): DeliveryFigures {
  const sorted = Float64Array.from(stretch.latencies).sort();
  const pub = Float64Array.from(stretch.publish).sort();
  return {
    fromS,
    codes: stretch.codes,
    lost: stretch.lost,
    p50: round(percentile(sorted, 50), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted.length ? sorted[sorted.length - 1]! : null, 2),
    publishP50: round(percentile(pub, 50), 2),
    publishP99: round(percentile(pub, 99), 2),
  };
}

export interface PhaseFigures extends DeliveryFigures {
  readonly name: string;
  readonly toS: number;
  readonly publishMax: number | null;
}

export interface IntervalFigures extends DeliveryFigures {
  readonly rssKb: number | null;
  readonly heapUsedKb: number | null;
}

export interface SustainedResult {
  readonly kind: 'sustained';
  readonly target: string;
  readonly transport: Mix;
  readonly subscribers: number;
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly clientProcesses: number;
  readonly connect: OpenResult;
  readonly published: number;
  readonly publishErrors: number;
  /** Deliveries missing: subscribers × accepted codes − received, warm-up codes included. */
  readonly lost: number;
  readonly lostInWarmup: number;
  readonly slowConsumerCloses: number | null;
  readonly clientCloses: Record<string, number>;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  readonly publishP50Ms: number | null;
  readonly publishP99Ms: number | null;
  readonly intervals: readonly IntervalFigures[];
  readonly phases?: readonly PhaseFigures[];
  /** RSS of the server process, and (codecast) its heapUsed from GET /api/v1/stats. */
  readonly rssSamples: readonly { readonly atS: number; readonly kb: number | null; readonly heapUsedKb?: number }[];
  /** Heap in use right after a full GC: once connected, before the codes, and after the last one drained. */
  readonly heapAfterGcKb: { readonly start: number | null; readonly end: number | null };
  readonly rss: {
    readonly connectedKb: number | null;
    /** Mean RSS over the middle third of the run and over the last third. */
    readonly middleThirdKb: number | null;
    readonly lastThirdKb: number | null;
    /** Flat: the last third's mean within 5 % of the middle third's. */
    readonly flat: boolean | null;
  };
  /** Server CPU over the measured seconds and the drain, summed over the nodes of a cluster. */
  readonly cpuMs: number | null;
  /** The same, process by process (a cluster's node 0 first). */
  readonly cpuMsByProcess: readonly (number | null)[];
  /** Bytes the server processes wrote over the same time (/proc wchar: sockets, logs, SQLite). */
  readonly bytesWritten: number | null;
  /** Wall time the CPU figures cover: the measured seconds, however long the publishes took, and the drain. */
  readonly cpuSeconds: number;
  /** CPU of the load clients over the same time (they share the machine with the servers). */
  readonly clientCpuMs: number | null;
  /** Server processes measured (a cluster's nodes: CPU and RSS are their sums). */
  readonly nodes: number;
  /** A cluster run: delivery latency on the node the publishes went to, and on the others. */
  readonly byNode?: NodeGroups<{ readonly p50Ms: number | null; readonly p99Ms: number | null; readonly maxMs: number | null }>;
  /** A cluster run: Redis and PostgreSQL work per accepted publish over the measured seconds. */
  readonly backend?: BackendWork;
  readonly serverStats: Record<string, unknown> | undefined;
  readonly windowUs: { readonly from: number; readonly to: number };
  profile?: string;
}

/** R codes per second for T seconds to N subscribers: losses, closes, latency over time, RSS over time. */
export async function runSustained(target: Target, options: SustainedOptions, progress: Progress): Promise<SustainedResult> {
  const label = `${target.name} sustained ${options.transport} ${options.subscribers}`;
  await target.prepare(options.subscribers);
  const { pool, specs } = startPool(target, options);
  const pids = target.pids;
  try {
    const connect = await openAll(pool, target, label, progress);
    await sleep(1000);
    const heapStart = (await target.collectGarbage())?.heapUsedKb ?? null;
    const rssConnected = rssKbOf(pids);
    const warmupCodes = Math.round(options.rate * options.warmupSeconds);
    const total = warmupCodes + Math.round(options.rate * options.seconds);
    const first = takeCodeNumbers(total);
    const periodMs = 1000 / options.rate;
    const t0 = new Float64Array(total);
    const publishMs = new Float64Array(total);
    const status = new Uint16Array(total);
    const pending: Promise<void>[] = [];
    const rssSamples: { atS: number; kb: number | null; heapUsedKb?: number }[] = [];
    let cpuStart = cpuMsOf(pids);
    let cpuStartByProcess = pids.map(cpuMs);
    let clientCpuStart = cpuMsOf(pool.pids);
    let writtenStart = writtenBytesOf(pids);
    let backendStart: BackendSample | undefined;
    // Everything below is measured from the end of the warm-up.
    let start = now() + warmupCodes * periodMs;
    let answered = 0;
    const sampler = setInterval(() => {
      const atS = round((now() - start) / 1000, 1) as number;
      const kb = rssKbOf(pids);
      const sample: { atS: number; kb: number | null; heapUsedKb?: number } = { atS, kb };
      rssSamples.push(sample);
      if (Math.round(atS) % options.intervalSeconds === 0) {
        progress(`${label}: ${atS} s, ${answered}/${total} published, rss ${kb === null ? '-' : Math.round(kb / 1024)} MB`);
        // Heap after the collector's last pass tells a leak from heap the collector has not yet reclaimed.
        void target.stats().then(
          (stats) => {
            const heapUsed = (stats?.memory as { heapUsed?: number } | undefined)?.heapUsed;
            if (heapUsed !== undefined) sample.heapUsedKb = Math.round(heapUsed / 1024);
          },
          () => undefined,
        );
      }
    }, 1000);
    for (let n = 0; n < total; n++) {
      const due = start + (n - warmupCodes) * periodMs;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      if (n === warmupCodes) {
        start = now();
        cpuStart = cpuMsOf(pids);
        cpuStartByProcess = pids.map(cpuMs);
        clientCpuStart = cpuMsOf(pool.pids);
        writtenStart = writtenBytesOf(pids);
        // Not awaited: the schedule goes on; the sample is a few ms late at worst.
        void target.backendSample?.().then(
          (sample) => (backendStart = sample),
          () => undefined,
        );
        rssSamples.length = 0;
        options.onMeasuredStart?.();
      }
      pending.push(
        target
          .publish(first + n, (t) => (t0[n] = t))
          .then(
            (answer) => {
              publishMs[n] = answer.ms;
              status[n] = answer.status;
            },
            () => {
              status[n] = 0;
            },
          )
          .finally(() => answered++),
      );
    }
    await Promise.all(pending);
    const windowTo = now();
    const backendEnd = await target.backendSample?.().catch(() => undefined);
    await sleep(options.drainMs);
    clearInterval(sampler);
    const cpuEnd = cpuMsOf(pids);
    const cpuSeconds = (now() - start) / 1000;
    const cpuEndByProcess = pids.map(cpuMs);
    const clientCpuEnd = cpuMsOf(pool.pids);
    const writtenEnd = writtenBytesOf(pids);
    await pool.flush('all');
    const serverStats = await target.stats().catch(() => undefined);
    const { closes } = await pool.status();
    const heapEnd = (await target.collectGarbage())?.heapUsedKb ?? null;

    const buckets = Math.ceil(options.seconds / options.intervalSeconds);
    const perBucket: { latencies: number[]; codes: number; lost: number; publish: number[] }[] = Array.from({ length: buckets }, () => ({
      latencies: [],
      codes: 0,
      lost: 0,
      publish: [],
    }));
    const everything: number[] = [];
    const cluster = isCluster(specs);
    const byNodeLatencies = { publishing: [] as number[], others: [] as number[] };
    const phaseData = (options.phases ?? []).map(() => ({ latencies: [] as number[], publish: [] as number[], codes: 0, lost: 0 }));
    const phaseOf = (n: number) => {
      const atS = (t0[n]! - start) / 1000;
      const i = (options.phases ?? []).findIndex((p) => atS >= p.fromS && atS < p.toS);
      return i === -1 ? undefined : phaseData[i];
    };
    let lost = 0;
    let warmupLost = 0;
    let publishErrors = 0;
    for (let n = 0; n < total; n++) {
      const warmup = n < warmupCodes;
      const bucket = perBucket[Math.max(0, Math.min(buckets - 1, Math.floor((t0[n]! - start) / 1000 / options.intervalSeconds)))]!;
      if (status[n] !== 201 && status[n] !== 200) {
        publishErrors++;
        pool.takeCode(first + n);
        continue;
      }
      const taken = pool.takeCode(first + n);
      const times = taken?.times ?? new Float64Array(options.subscribers);
      const phase = warmup ? undefined : phaseOf(n);
      let got = 0;
      for (let i = 0; i < times.length; i++) {
        const t = times[i]!;
        if (t === 0) continue;
        got++;
        if (warmup) continue;
        const latency = t - t0[n]!;
        bucket.latencies.push(latency);
        everything.push(latency);
        if (cluster) byNodeLatencies[(specs[i] as SubscriberSpec).node === 0 ? 'publishing' : 'others'].push(latency);
        phase?.latencies.push(latency);
      }
      const missing = connect.connected - got;
      lost += missing;
      if (warmup) {
        warmupLost += missing;
        continue;
      }
      if (phase) {
        phase.codes++;
        phase.lost += missing;
        phase.publish.push(publishMs[n]!);
      }
      bucket.codes++;
      bucket.publish.push(publishMs[n]!);
      bucket.lost += missing;
    }
    const sortedAll = Float64Array.from(everything).sort();
    const publishAll = Float64Array.from(perBucket.flatMap((b) => b.publish)).sort();
    const intervals: IntervalFigures[] = perBucket.map((b, i) => {
      const fromS = i * options.intervalSeconds;
      const samples = rssSamples.filter((s) => s.atS >= fromS && s.atS < fromS + options.intervalSeconds && s.kb !== null);
      return {
        ...deliveryFigures(fromS, b),
        rssKb: samples.length ? (samples[samples.length - 1]!.kb as number) : null,
        heapUsedKb: samples.filter((x) => x.heapUsedKb !== undefined).at(-1)?.heapUsedKb ?? null,
      };
    });
    const phases: PhaseFigures[] = (options.phases ?? []).map((p, i) => {
      const data = phaseData[i]!;
      const figures = deliveryFigures(p.fromS, data);
      const publishMax = data.publish.length ? data.publish.reduce((a, b) => Math.max(a, b)) : null;
      return { ...p, ...figures, publishMax: round(publishMax, 2) };
    });
    const during = rssSamples.filter((s) => s.kb !== null && s.atS <= options.seconds);
    const third = (a: number, b: number) => {
      const part = during.filter((s) => s.atS > (options.seconds * a) / 3 && s.atS <= (options.seconds * b) / 3);
      return part.length ? Math.round(part.reduce((sum, s) => sum + (s.kb as number), 0) / part.length) : null;
    };
    const middleThirdKb = third(1, 2);
    const lastThirdKb = third(2, 3);
    const closesByReason = (serverStats?.closes ?? {}) as Record<string, number>;
    const groupFigures = (latencies: number[]) => {
      const sorted = Float64Array.from(latencies).sort();
      return {
        p50Ms: round(percentile(sorted, 50), 2),
        p99Ms: round(percentile(sorted, 99), 2),
        maxMs: round(sorted.length ? sorted[sorted.length - 1]! : null, 2),
      };
    };
    const measuredAccepted = perBucket.reduce((sum, b) => sum + b.codes, 0);
    return {
      kind: 'sustained',
      target: target.name,
      transport: options.transport,
      subscribers: options.subscribers,
      rate: options.rate,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      clientProcesses: pool.processes,
      connect,
      published: total - publishErrors,
      publishErrors,
      lost,
      lostInWarmup: warmupLost,
      slowConsumerCloses: serverStats ? (closesByReason.slow_consumer ?? 0) : null,
      clientCloses: closes,
      p50Ms: round(percentile(sortedAll, 50), 2),
      p99Ms: round(percentile(sortedAll, 99), 2),
      maxMs: round(sortedAll.length ? sortedAll[sortedAll.length - 1]! : null, 2),
      publishP50Ms: round(percentile(publishAll, 50), 2),
      publishP99Ms: round(percentile(publishAll, 99), 2),
      intervals,
      ...(options.phases ? { phases } : {}),
      rssSamples,
      heapAfterGcKb: { start: heapStart, end: heapEnd },
      rss: {
        connectedKb: rssConnected,
        middleThirdKb,
        lastThirdKb,
        flat: middleThirdKb === null || lastThirdKb === null ? null : Math.abs(lastThirdKb - middleThirdKb) / middleThirdKb <= 0.05,
      },
      cpuMs: cpuStart === null || cpuEnd === null ? null : cpuEnd - cpuStart,
      cpuMsByProcess: pids.map((_, i) => {
        const a = cpuStartByProcess[i];
        const b = cpuEndByProcess[i];
        return a === null || a === undefined || b === null || b === undefined ? null : b - a;
      }),
      bytesWritten: writtenStart === null || writtenEnd === null ? null : writtenEnd - writtenStart,
      cpuSeconds: round(cpuSeconds, 2) as number,
      clientCpuMs: clientCpuStart === null || clientCpuEnd === null ? null : clientCpuEnd - clientCpuStart,
      nodes: target.nodeCount ?? 1,
      ...(cluster
        ? { byNode: { publishing: groupFigures(byNodeLatencies.publishing), others: groupFigures(byNodeLatencies.others) } }
        : {}),
      ...(backendStart && backendEnd ? { backend: backendWork(backendStart, backendEnd, measuredAccepted) } : {}),
      serverStats,
      windowUs: { from: Math.round(start * 1000), to: Math.round(windowTo * 1000) },
    };
  } finally {
    await pool.close();
  }
}
