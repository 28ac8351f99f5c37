// The soak mode of issue 9: N connections for D minutes at C codes/s, a
// fraction of them cut and resumed with their last id every period. Each
// subscriber checks that the ids it gets follow one another with no gap and
// no repeat across its reconnections (client.ts, `track: 'ids'`); the server
// is watched for memory that grows and file descriptors that leak.
import { ClientPool, type OpenResult } from './client-pool.js';
import { specsFor, type LoadOptions, type Progress } from './harness.js';
import { now, openFds, percentile, round, rssKb, sleep } from './measure.js';
import type { SoakTally } from './protocol.js';
import { closeIdleHttpConnections, type Target } from './targets.js';

export interface SoakOptions extends LoadOptions {
  /** Codes per second. */
  readonly rate: number;
  readonly minutes: number;
  /** One report and one round of reconnections per period (a minute in the issue). */
  readonly periodSeconds: number;
  /** Share of the subscribers cut and resumed in each period, spread over it. */
  readonly reconnectFraction: number;
  /** Periods left out of the RSS comparison: the server sizes its heap in them. */
  readonly warmupPeriods: number;
  /** Between a cut and the subscriber coming back. */
  readonly pauseMs: number;
  /** How long, after the last publish, every subscriber may take to catch up. */
  readonly drainMs: number;
  /** How long, after the clients leave, the server's open files may take to return to the baseline. */
  readonly fdSettleMs: number;
}

export interface SoakPeriod {
  readonly period: number;
  readonly atS: number;
  readonly rssKb: number | null;
  /** Mean of the RSS samples (every 5 s) within the period. */
  readonly rssMeanKb: number | null;
  readonly heapUsedKb: number | null;
  /** Memory outside the V8 heap that V8 knows of (Buffers and the like): `process.memoryUsage().external`. */
  readonly externalKb: number | null;
  readonly fds: number | null;
  /** The server's count (GET /api/v1/stats). */
  readonly connections: number | null;
  readonly published: number;
  readonly publishErrors: number;
  readonly clients: SoakTally;
}

export interface SoakResult {
  readonly kind: 'soak';
  readonly target: string;
  readonly transport: LoadOptions['transport'];
  readonly subscribers: number;
  readonly clientProcesses: number;
  readonly rate: number;
  readonly minutes: number;
  readonly periodSeconds: number;
  readonly reconnectFraction: number;
  readonly warmupPeriods: number;
  readonly connect: OpenResult;
  /** Before any subscriber, once connected, and after they all left (fds once settled). */
  readonly baseline: { readonly fds: number | null; readonly rssKb: number | null };
  readonly connected: { readonly fds: number | null; readonly rssKb: number | null };
  readonly after: { readonly fds: number | null; readonly rssKb: number | null; readonly fdsSettledMs: number | null };
  readonly periods: readonly SoakPeriod[];
  readonly published: number;
  readonly publishErrors: number;
  readonly publishP50Ms: number | null;
  readonly publishP99Ms: number | null;
  /** The last code id published; every subscriber should end holding it. */
  readonly lastId: number | null;
  /** Client counts once the last codes drained, `behind` counted against `lastId`. */
  readonly final: SoakTally;
  readonly drainedMs: number | null;
  readonly verdict: {
    /** No id skipped, repeated or never reached; no reset; no publish refused. */
    readonly nothingLost: boolean;
    readonly rss: {
      readonly firstKb: number | null;
      readonly lastKb: number | null;
      readonly growth: number | null;
      readonly flat: boolean | null;
    };
    readonly fdsBack: boolean | null;
  };
}

/** N subscribers resuming by id under churn for D minutes: losses, repeats, RSS, heap and open files per period. */
export async function runSoak(target: Target, options: SoakOptions, progress: Progress): Promise<SoakResult> {
  const label = `${target.name} soak ${options.transport} ${options.subscribers}`;
  const pid = target.pid;
  const fds = () => (pid ? openFds(pid) : null);
  const rss = () => (pid ? rssKb(pid) : null);
  await target.prepare(options.subscribers);
  closeIdleHttpConnections();
  await sleep(1000);
  const baseline = { fds: fds(), rssKb: rss() };
  progress(`${label}: baseline ${baseline.fds ?? '-'} open files, rss ${mb(baseline.rssKb)}`);

  const pool = ClientPool.start(specsFor(target, options.transport, options.subscribers), options.perProcess, 'ids');
  let poolClosed = false;
  try {
    const connect = await pool.open(target.host, target.port, options.concurrency, (c, f) =>
      progress(`${label}: connecting ${c} open, ${f} failed`),
    );
    progress(
      `${label}: ${connect.connected} connected in ${connect.ms.toFixed(0)} ms${connect.failed ? `, ${connect.failed} failed: ${JSON.stringify(connect.errors)}` : ''}`,
    );
    await sleep(1000);
    const connected = { fds: fds(), rssKb: rss() };

    const periods = Math.max(1, Math.ceil((options.minutes * 60) / options.periodSeconds));
    const durationMs = options.minutes * 60_000;
    const total = Math.round(options.rate * options.minutes * 60);
    const publishMs = new Float64Array(total);
    let answered = 0;
    let publishErrors = 0;
    let lastId: number | null = null;
    const start = now();
    const rssSamples: { atMs: number; kb: number }[] = [];
    const sampler = setInterval(() => {
      const kb = rss();
      if (kb !== null) rssSamples.push({ atMs: now() - start, kb });
    }, 5000);

    const reports: SoakPeriod[] = [];
    const report = async (period: number): Promise<void> => {
      const stats = await target.stats().catch(() => undefined);
      const clients = await pool.tally();
      const from = period * options.periodSeconds * 1000;
      const inPeriod = rssSamples.filter((s) => s.atMs >= from && s.atMs < from + options.periodSeconds * 1000);
      const entry: SoakPeriod = {
        period: period + 1,
        atS: round((now() - start) / 1000, 0) as number,
        rssKb: rss(),
        rssMeanKb: inPeriod.length ? Math.round(inPeriod.reduce((n, s) => n + s.kb, 0) / inPeriod.length) : null,
        heapUsedKb: heapOf(stats),
        externalKb: externalOf(stats),
        fds: fds(),
        connections: ((stats?.connections as { total?: number } | undefined)?.total ?? null) as number | null,
        published: answered - publishErrors,
        publishErrors,
        clients,
      };
      reports.push(entry);
      progress(`${label}: ${formatPeriodLine(entry, periods)}`);
    };

    // Churn at the start of every period; a report at its end. Reports run one after another.
    let chain = Promise.resolve();
    const timers: NodeJS.Timeout[] = [];
    for (let p = 0; p < periods; p++) {
      const at = p * options.periodSeconds * 1000;
      timers.push(
        setTimeout(() => pool.churn(options.reconnectFraction, options.periodSeconds * 1000 * 0.8, options.pauseMs), at),
        setTimeout(
          () => {
            chain = chain.then(() => report(p));
          },
          Math.min(durationMs, at + options.periodSeconds * 1000),
        ),
      );
    }

    const pending = new Set<Promise<void>>();
    const periodMs = 1000 / options.rate;
    for (let n = 0; n < total; n++) {
      const wait = start + n * periodMs - now();
      if (wait > 1) await sleep(wait);
      const sent = target.publish(n + 1).then(
        (answer) => {
          publishMs[n] = answer.ms;
          if (answer.status !== 201 && answer.status !== 200) publishErrors++;
          else if (answer.id !== undefined) lastId = Math.max(lastId ?? 0, answer.id);
        },
        () => {
          publishErrors++;
        },
      );
      const tracked = sent.finally(() => {
        answered++;
        pending.delete(tracked);
      });
      pending.add(tracked);
    }
    await Promise.all(pending);
    // The last period's report is due at the end of the run.
    const end = start + durationMs + 100;
    if (end > now()) await sleep(end - now());
    await chain;
    for (const t of timers) clearTimeout(t);
    clearInterval(sampler);

    // Every subscriber must end holding the last id, whether or not it was coming back.
    const drainStart = now();
    let final = await pool.tally(lastId ?? 0);
    while ((final.behind > 0 || final.reopening > 0) && now() - drainStart < options.drainMs) {
      await sleep(1000);
      final = await pool.tally(lastId ?? 0);
    }
    const drainedMs = final.behind === 0 && final.reopening === 0 ? round(now() - drainStart, 0) : null;
    progress(
      `${label}: drained ${drainedMs === null ? 'NOT' : `in ${drainedMs} ms`}; ${final.behind} ids not reached by ${final.behindSubscribers} subscribers, ` +
        `${final.lost} skipped, ${final.duplicated} repeated, ${final.resets} resets`,
    );

    await pool.close();
    poolClosed = true;
    closeIdleHttpConnections();
    const leftAt = now();
    let after = fds();
    while (after !== null && baseline.fds !== null && after > baseline.fds && now() - leftAt < options.fdSettleMs) {
      await sleep(500);
      after = fds();
    }
    const fdsSettledMs = after !== null && baseline.fds !== null && after <= baseline.fds ? (round(now() - leftAt, 0) as number) : null;
    progress(`${label}: clients gone; server open files ${after ?? '-'} (baseline ${baseline.fds ?? '-'})`);

    const publishSorted = publishMs.subarray(0, total).sort();
    const first = reports[Math.min(options.warmupPeriods, reports.length - 1)];
    const last = reports[reports.length - 1];
    const firstKb = first?.rssMeanKb ?? first?.rssKb ?? null;
    const lastKb = last?.rssMeanKb ?? last?.rssKb ?? null;
    const growth = firstKb === null || lastKb === null ? null : round((lastKb - firstKb) / firstKb, 3);
    return {
      kind: 'soak',
      target: target.name,
      transport: options.transport,
      subscribers: options.subscribers,
      clientProcesses: pool.processes,
      rate: options.rate,
      minutes: options.minutes,
      periodSeconds: options.periodSeconds,
      reconnectFraction: options.reconnectFraction,
      warmupPeriods: options.warmupPeriods,
      connect,
      baseline,
      connected,
      after: { fds: after, rssKb: rss(), fdsSettledMs },
      periods: reports,
      published: total - publishErrors,
      publishErrors,
      publishP50Ms: round(percentile(publishSorted, 50), 2),
      publishP99Ms: round(percentile(publishSorted, 99), 2),
      lastId,
      final,
      drainedMs,
      verdict: {
        nothingLost:
          publishErrors === 0 &&
          final.lost === 0 &&
          final.duplicated === 0 &&
          final.behind === 0 &&
          final.resets === 0 &&
          connect.failed === 0,
        rss: { firstKb, lastKb, growth, flat: growth === null ? null : Math.abs(growth) <= 0.1 },
        fdsBack: after === null || baseline.fds === null ? null : after <= baseline.fds,
      },
    };
  } finally {
    if (!poolClosed) await pool.close();
  }
}

function heapOf(stats: Record<string, unknown> | undefined): number | null {
  const heapUsed = (stats?.memory as { heapUsed?: number } | undefined)?.heapUsed;
  return heapUsed === undefined ? null : Math.round(heapUsed / 1024);
}

function externalOf(stats: Record<string, unknown> | undefined): number | null {
  const external = (stats?.memory as { external?: number } | undefined)?.external;
  return external === undefined ? null : Math.round(external / 1024);
}

const mb = (kb: number | null) => (kb === null ? '-' : `${(kb / 1024).toFixed(1)} MB`);

export function formatPeriodLine(p: SoakPeriod, of: number): string {
  const c = p.clients;
  return (
    `period ${p.period}/${of} (${p.atS} s): rss ${mb(p.rssKb)} (mean ${mb(p.rssMeanKb)}), heap ${mb(p.heapUsedKb)}, external ${mb(p.externalKb)}, open files ${p.fds ?? '-'}, ` +
    `connections ${p.connections ?? '-'} (clients: ${c.open} open, ${c.reopening} coming back), published ${p.published} (${p.publishErrors} refused), ` +
    `reconnects ${c.reconnects}, lost ${c.lost}, duplicated ${c.duplicated}, resets ${c.resets}` +
    (Object.keys(c.closes).length ? `, server closes ${JSON.stringify(c.closes)}` : '') +
    (Object.keys(c.reopenErrors).length ? `, refused on return ${JSON.stringify(c.reopenErrors)}` : '')
  );
}
