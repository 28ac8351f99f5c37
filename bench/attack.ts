// The attack mode of issue 9: the sustained run (R codes/s to N subscribers)
// with one hostile client let loose in the middle of it. The measured
// seconds are cut in three — before (the baseline), during the attack, after
// it — and each gets the other subscribers' delivery latency, the publish
// answer time and /healthz's answer time; the server's RSS and open files are
// sampled every second; the attacker (attacker.ts, a process of its own)
// says what the server did to it.
import { fork } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AttackerMessage, AttackerReport, AttackerStart, Attack } from './attacker.js';
import { runSustained, type LoadOptions, type Progress, type SustainedResult } from './harness.js';
import { now, openFds, percentile, round, rssKb, sleep, within } from './measure.js';
import type { Target } from './targets.js';

const ATTACKER = fileURLToPath(new URL('./attacker.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface AttackOptions extends LoadOptions {
  readonly attack: Attack;
  /** Codes per second to the subscribers throughout. */
  readonly rate: number;
  readonly baselineSeconds: number;
  readonly attackSeconds: number;
  readonly afterSeconds: number;
  readonly warmupSeconds: number;
  /** Subscribers per user on the target (the attacker gets a user of its own). */
  readonly perUser: number;
  /** Holding variants: connections held at most, and attempts in flight. */
  readonly maxHeld: number;
  readonly attackConcurrency: number;
  /** How long late codes may take to arrive after the last publish (default 10 s: an attack leaves a backlog). */
  readonly drainMs?: number;
}

export interface Sample {
  readonly atS: number;
  readonly rssKb: number | null;
  readonly fds: number | null;
}

export interface HealthFigures {
  readonly phase: string;
  readonly probes: number;
  /** Probes that got no 200 (or none at all within 60 s). */
  readonly failures: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface AttackResult {
  readonly kind: 'attack';
  readonly target: string;
  readonly attack: Attack;
  readonly transport: LoadOptions['transport'];
  readonly subscribers: number;
  readonly rate: number;
  readonly baselineSeconds: number;
  readonly attackSeconds: number;
  readonly afterSeconds: number;
  readonly sustained: SustainedResult;
  readonly attacker: AttackerReport | null;
  readonly healthz: readonly HealthFigures[];
  /** Server RSS and open files: just before the attack, the highest during or after it, at the end. */
  readonly rssKb: { readonly before: number | null; readonly peak: number | null; readonly after: number | null };
  readonly fds: { readonly before: number | null; readonly peak: number | null; readonly after: number | null };
  readonly samples: readonly Sample[];
}

/** GET /healthz on a connection of its own; its answer time in ms, or null. */
function probeHealth(target: Target): Promise<{ ms: number; ok: boolean }> {
  return new Promise((resolve) => {
    const t0 = now();
    const req = request({ host: target.host, port: target.port, path: '/healthz', agent: false, timeout: 60_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: now() - t0, ok: res.statusCode === 200 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ms: now() - t0, ok: false }));
    req.end();
  });
}

export async function runAttack(target: Target, options: AttackOptions, progress: Progress): Promise<AttackResult> {
  const label = `${target.name} attack ${options.attack}`;
  const pid = target.pid;
  // The attacker is a user of its own: the first index past the subscribers' users.
  const attackerIndex = Math.ceil(options.subscribers / options.perUser) * options.perUser;
  await target.prepare(attackerIndex + 1);
  const token = target.subscriber('ws', attackerIndex).token as string;

  const attacker = fork(ATTACKER, [], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let report: AttackerReport | null = null;
  const reported = new Promise<void>((resolve) => {
    attacker.on('message', (message: AttackerMessage) => {
      if (message.type === 'progress') progress(message.line);
      else {
        report = message.report;
        resolve();
      }
    });
    attacker.once('exit', () => resolve());
  });

  const phases = [
    { name: 'before', fromS: 0, toS: options.baselineSeconds },
    { name: 'attack', fromS: options.baselineSeconds, toS: options.baselineSeconds + options.attackSeconds },
    {
      name: 'after',
      fromS: options.baselineSeconds + options.attackSeconds,
      toS: options.baselineSeconds + options.attackSeconds + options.afterSeconds,
    },
  ];
  let measuredStart: number | undefined;
  const samples: Sample[] = [];
  const probes: { atS: number; ms: number; ok: boolean }[] = [];
  let done = false;
  const atS = () => (measuredStart === undefined ? null : (now() - measuredStart) / 1000);
  const sample = () => {
    const at = atS();
    if (at !== null) samples.push({ atS: round(at, 1) as number, rssKb: pid ? rssKb(pid) : null, fds: pid ? openFds(pid) : null });
  };
  const sampler = setInterval(sample, 1000);
  // One probe at a time: a stuck /healthz shows as one long answer, as a load balancer would see it.
  const prober = (async () => {
    while (!done) {
      const at = atS();
      const probe = await probeHealth(target);
      if (at !== null) probes.push({ atS: at, ...probe });
      if (probe.ms < 500) await sleep(500 - probe.ms);
    }
  })();

  let sustained: SustainedResult;
  try {
    sustained = await runSustained(
      target,
      {
        transport: options.transport,
        subscribers: options.subscribers,
        perProcess: options.perProcess,
        concurrency: options.concurrency,
        rate: options.rate,
        seconds: options.baselineSeconds + options.attackSeconds + options.afterSeconds,
        warmupSeconds: options.warmupSeconds,
        intervalSeconds: 5,
        drainMs: options.drainMs ?? 10_000,
        phases,
        onMeasuredStart: () => {
          measuredStart = now();
          // One at once: with a baseline as short as the sampling period,
          // the first timed sample could fall after the attack began.
          sample();
          setTimeout(() => {
            progress(`${label}: the attack begins`);
            const start: AttackerStart = {
              type: 'start',
              attack: options.attack,
              host: target.host,
              port: target.port,
              // Every address of 127/8 reaches a loopback server on Linux:
              // the attacker gets one of its own, so the per-address budget
              // it meets is its own, not that of the publisher and the
              // health probes on 127.0.0.1.
              localAddress: target.host.startsWith('127.') ? '127.0.0.2' : undefined,
              token,
              seconds: options.attackSeconds,
              maxHeld: options.maxHeld,
              concurrency: options.attackConcurrency,
            };
            attacker.send(start);
          }, options.baselineSeconds * 1000);
        },
      },
      progress,
    );
    await within(reported, 30_000);
  } finally {
    done = true;
    clearInterval(sampler);
    if (attacker.connected) attacker.disconnect();
    if (attacker.exitCode === null && attacker.signalCode === null) {
      if (!(await within(new Promise((r) => attacker.once('exit', r)), 5000))) attacker.kill('SIGKILL');
    }
    await within(prober, 61_000);
  }

  const inPhase = (name: string) => {
    const p = phases.find((x) => x.name === name)!;
    return (at: number) => at >= p.fromS && at < p.toS;
  };
  const healthz = phases.map((p): HealthFigures => {
    const mine = probes.filter((x) => inPhase(p.name)(x.atS));
    const sorted = Float64Array.from(mine.filter((x) => x.ok).map((x) => x.ms)).sort();
    return {
      phase: p.name,
      probes: mine.length,
      failures: mine.filter((x) => !x.ok).length,
      p50: round(percentile(sorted, 50), 2),
      p99: round(percentile(sorted, 99), 2),
      max: round(sorted.length ? (sorted[sorted.length - 1] as number) : null, 2),
    };
  });
  const attackFrom = options.baselineSeconds;
  const before = samples.filter((s) => s.atS < attackFrom).at(-1);
  const later = samples.filter((s) => s.atS >= attackFrom);
  const peak = (f: (s: Sample) => number | null) => {
    const values = later.map(f).filter((v): v is number => v !== null);
    return values.length ? Math.max(...values) : null;
  };
  return {
    kind: 'attack',
    target: target.name,
    attack: options.attack,
    transport: options.transport,
    subscribers: options.subscribers,
    rate: options.rate,
    baselineSeconds: options.baselineSeconds,
    attackSeconds: options.attackSeconds,
    afterSeconds: options.afterSeconds,
    sustained,
    attacker: report,
    healthz,
    rssKb: { before: before?.rssKb ?? null, peak: peak((s) => s.rssKb), after: samples.at(-1)?.rssKb ?? null },
    fds: { before: before?.fds ?? null, peak: peak((s) => s.fds), after: samples.at(-1)?.fds ?? null },
    samples,
  };
}
