// The benchmark harness of issue 4: `npm run bench -- [options]`.
//
//   npm run bench -- --transport sse --subscribers 10000          codecast vs the bare SSE broadcaster
//   npm run bench -- --transport mixed --subscribers 15000        codecast alone, all three transports
//   npm run bench -- --sustained --rate 100 --seconds 60 --subscribers 1000
//   npm run bench -- --suite issue                                every measurement the issue asks for
//   npm run bench -- --nodes 3 --transport mixed                  issue 11: three nodes on PostgreSQL and Redis vs one
//   npm run bench -- --suite cluster                              issue 11's three targets
//   npm run bench -- --attack ack-ws                              issue 9: one hostile client amid 100 codes/s to 1,000
//   npm run bench -- --soak --minutes 30                          issue 9: 10,000 connections, 10 % resuming every minute
//   npm run bench -- --url http://host:8080 --token ADMIN --pid 1234 ...   a codecast already running
//
// Progress goes to stderr, the table to stdout, everything to bench/results/*.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runAttack, type AttackResult } from './attack.js';
import { ATTACKS, type Attack } from './attacker.js';
import { runBursts, runSustained, type BurstResult, type Mix, type SustainedResult } from './harness.js';
import { runSoak, type SoakResult } from './soak.js';
import { formatProfile, summarizeProfile, type ProfileSummary } from './profile.js';
import { startCluster } from './cluster.js';
import {
  clusterComparisons,
  comparisons,
  formatAttack,
  formatBurstTable,
  formatClusterComparisons,
  formatClusterTargets,
  formatComparisons,
  formatNodeGroups,
  formatSoak,
  formatSustained,
  medianRatios,
  type Comparison,
} from './report.js';
import { REPO, remoteCodecast, startBare, startCodecast, type StoreKind, type Target } from './targets.js';
import type { Transport } from './protocol.js';

const HELP = `npm run bench -- [options]
  --suite issue             all of issue 4: sse, ws, socketio at 10,000 each against the bare
                            broadcasters, 15,000 mixed, sustained 100 codes/s to 1,000 for 60 s
  --transport T             sse | ws | socketio | mixed (default sse; mixed for --attack and --soak)
  --subscribers N           (default 10000; 1000 for --attack)
  --codes M                 codes measured per server (default 20)
  --warmup W                codes sent first and left out of the figures (default 2)
  --interval MS             pause between codes (default 300)
  --repeat R                run each burst comparison R times (fresh servers each time); the
                            summary gives the median ratio over the rounds
  --no-bare                 codecast only (a mixed run has no bare counterpart anyway)
  --bare-only               the bare broadcaster only
  --bare                    sustained mode: also run the bare broadcaster (one after the other)
  --sustained               sustained mode: --rate R codes/s for --seconds T (default 100, 60)
  --attack A                attack mode (issue 9): --rate codes/s (default 100) to the subscribers
                            while one user attacks for --attack-seconds (default 30), after
                            --baseline-seconds (default 10) and before --after-seconds (default 10).
                            A: ack-ws | ack-socketio (floods acks) | handshakes (engine.io sessions
                            that never join) | upgrades | sse (requests whose headers never end,
                            so never authenticate) | all (each in turn, a fresh server each)
  --max-held H              attack mode: connections the holding variants keep open at most (15000)
  --attack-concurrency C    attack mode: their attempts in flight (default 200)
  --soak                    soak mode (issue 9): --subscribers (default 10000) for --minutes
                            (default 30) at --rate codes/s (default 10); --reconnect-fraction
                            (default 0.1) of them cut and resumed with their last id every
                            --period-seconds (default 60), when RSS, heap, open files and
                            losses are printed; --warmup-periods (default 1) are left out of
                            the RSS comparison
  --warmup-seconds W        sustained mode: publish at the rate for W s first, left out of the
                            latency figures but not of the losses (default 5)
  --interval-seconds S      width of the sustained report's intervals (default 5)
  --per-process P           subscribers per client process at most (default 5000)
  --per-user U              codecast subscribers per user (default 500)
  --concurrency C           handshakes in flight per client process (default 64)
  --profile                 run the servers with --cpu-prof; summarise the publish window
  --nodes N                 issue 11: codecast as N nodes on this machine sharing a fresh PostgreSQL
                            database and a Redis key prefix of the run's own (Redis at
                            CODECAST_BENCH_REDIS_URL, CODECAST_TEST_REDIS_URL or 127.0.0.1:6379);
                            subscribers spread over the nodes, three at a time in turn, publishes
                            sent to node 0. A burst runs, interleaved, against N nodes, one node on
                            the same PostgreSQL and Redis, and one node on SQLite (--no-baseline:
                            the N nodes only); a sustained run against the N nodes (--baseline:
                            then one node on PostgreSQL and Redis)
  --suite cluster           issue 11's targets with --nodes (default 3): 10,000 mixed, interleaved
                            as above, then 100 codes/s to 1,000 mixed for 60 s on the N nodes and
                            on one; prints each target, what was measured, pass or fail
  --no-redis                --nodes without REDIS_URL: every node on its own in-memory broker
                            (codes do not cross nodes; for trying the harness before the broker)
  --url U --token T [--pid P]   target a running codecast instead of starting one
  --codecast-dir DIR        run the codecast built in DIR instead of this checkout (no build)
  --also-dir DIR            also run the codecast built in DIR (its dist/), interleaved with this
                            one: an A/B of a change (DIR needs dist/, package.json, node_modules)
  --store S                 sqlite | postgres | both: the store codecast runs on (default: both for
                            a burst comparison, interleaved code by code, so the publish latency
                            is reported on each; sqlite for the other modes). In sustained mode,
                            both runs one after the other. PostgreSQL is the server at
                            CODECAST_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/
                            postgres), in a database of the run's own, dropped after
  --no-build                skip \`tsc -p tsconfig.json\` before starting codecast
  --out FILE                where to write the JSON (default bench/results/<time>-<what>.json)`;

const { values } = parseArgs({
  options: {
    suite: { type: 'string' },
    transport: { type: 'string' },
    subscribers: { type: 'string' },
    codes: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    interval: { type: 'string', default: '300' },
    'no-bare': { type: 'boolean', default: false },
    bare: { type: 'boolean', default: false },
    'bare-only': { type: 'boolean', default: false },
    sustained: { type: 'boolean', default: false },
    rate: { type: 'string' },
    attack: { type: 'string' },
    'attack-seconds': { type: 'string', default: '30' },
    'baseline-seconds': { type: 'string', default: '10' },
    'after-seconds': { type: 'string', default: '10' },
    'max-held': { type: 'string', default: '15000' },
    'attack-concurrency': { type: 'string', default: '200' },
    soak: { type: 'boolean', default: false },
    minutes: { type: 'string', default: '30' },
    'period-seconds': { type: 'string', default: '60' },
    'reconnect-fraction': { type: 'string', default: '0.1' },
    'warmup-periods': { type: 'string', default: '1' },
    seconds: { type: 'string', default: '60' },
    'interval-seconds': { type: 'string', default: '5' },
    'warmup-seconds': { type: 'string', default: '5' },
    'per-process': { type: 'string', default: '5000' },
    'per-user': { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '64' },
    profile: { type: 'boolean', default: false },
    url: { type: 'string' },
    token: { type: 'string' },
    pid: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'also-dir': { type: 'string' },
    repeat: { type: 'string', default: '1' },
    'codecast-dir': { type: 'string' },
    store: { type: 'string' },
    nodes: { type: 'string' },
    'no-redis': { type: 'boolean', default: false },
    baseline: { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function int(name: string, text: string | undefined, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} takes a whole number of at least ${min}, not ${text}`);
    process.exit(2);
  }
  return n;
}

// Each mode has its own defaults: the issue's figures.
const issue9 = values.attack !== undefined || values.soak;
if (values.suite === 'cluster') values.nodes ??= '3';
const nodes = values.nodes === undefined ? undefined : int('nodes', values.nodes);
if (nodes !== undefined && (values.url || values['also-dir'] || issue9)) {
  console.error('--nodes runs the burst and sustained modes on nodes it starts: not with --url, --also-dir, --attack or --soak');
  process.exit(2);
}
values.transport ??= issue9 ? 'mixed' : 'sse';
values.subscribers ??= values.attack !== undefined ? '1000' : '10000';
values.rate ??= values.soak ? '10' : '100';

const TRANSPORTS = ['sse', 'ws', 'socketio', 'mixed'] as const;
if (!(TRANSPORTS as readonly string[]).includes(values.transport as string)) {
  console.error(`--transport takes one of ${TRANSPORTS.join(', ')}`);
  process.exit(2);
}
if (values.url && !values.token) {
  console.error('--url needs --token (an admin token of that server)');
  process.exit(2);
}

const common = {
  perProcess: int('per-process', values['per-process']),
  concurrency: int('concurrency', values.concurrency),
};
const perUser = int('per-user', values['per-user']);
const STORE_CHOICES: Record<string, readonly StoreKind[]> = { sqlite: ['sqlite'], postgres: ['postgres'], both: ['sqlite', 'postgres'] };
const stores: readonly StoreKind[] =
  STORE_CHOICES[values.store ?? 'both'] ??
  (() => {
    console.error(`--store must be sqlite, postgres or both, not ${JSON.stringify(values.store)}`);
    return process.exit(2);
  })();
const profileDir = values.profile ? join(REPO, 'bench', 'results', 'profiles') : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });
const progress = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Issue 11: codecast as `nodes` nodes, and whether one node on the same stores runs beside them (and SQLite, in a burst). */
interface ClusterPlan {
  readonly nodes: number;
  readonly baseline: boolean;
}
interface BurstPlan {
  readonly kind: 'burst';
  readonly transport: Mix;
  readonly subscribers: number;
  readonly bare: boolean;
  readonly codecast: boolean;
  readonly cluster?: ClusterPlan;
}
interface SustainedPlan {
  readonly kind: 'sustained';
  readonly transport: Mix;
  readonly subscribers: number;
  readonly rate: number;
  readonly seconds: number;
  readonly bare: boolean;
  readonly codecast: boolean;
  readonly cluster?: ClusterPlan;
}
interface AttackPlan {
  readonly kind: 'attack';
  readonly attack: Attack;
}
interface SoakPlan {
  readonly kind: 'soak';
}
type Plan = BurstPlan | SustainedPlan | AttackPlan | SoakPlan;

function positive(name: string, text: string | undefined, max = Infinity): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    console.error(`--${name} takes a number above 0${max === Infinity ? '' : ` and at most ${max}`}, not ${text}`);
    process.exit(2);
  }
  return n;
}

const burstShape = {
  codes: int('codes', values.codes),
  warmup: int('warmup', values.warmup, 0),
  intervalMs: int('interval', values.interval, 0),
  settleMs: 2000,
};

function plans(): Plan[] {
  if (values.attack !== undefined) {
    if (values.attack === 'all') return ATTACKS.map((attack): AttackPlan => ({ kind: 'attack', attack }));
    if (!(ATTACKS as readonly string[]).includes(values.attack)) {
      console.error(`--attack takes one of ${ATTACKS.join(', ')}, all`);
      process.exit(2);
    }
    return [{ kind: 'attack', attack: values.attack as Attack }];
  }
  if (values.soak) return [{ kind: 'soak' }];
  if (values.suite === 'issue') {
    return [
      ...(['sse', 'ws', 'socketio'] as const).map(
        (transport): BurstPlan => ({ kind: 'burst', transport, subscribers: 10_000, bare: true, codecast: true }),
      ),
      { kind: 'burst', transport: 'mixed', subscribers: 15_000, bare: false, codecast: true },
      { kind: 'sustained', transport: 'mixed', subscribers: 1000, rate: 100, seconds: 60, bare: false, codecast: true },
    ];
  }
  if (values.suite === 'cluster') {
    const cluster = { nodes: nodes as number, baseline: true };
    return [
      { kind: 'burst', transport: 'mixed', subscribers: 10_000, bare: false, codecast: true, cluster },
      { kind: 'sustained', transport: 'mixed', subscribers: 1000, rate: 100, seconds: 60, bare: false, codecast: true, cluster },
    ];
  }
  if (values.suite !== undefined) {
    console.error(`unknown --suite ${values.suite} (there are: issue, cluster)`);
    process.exit(2);
  }
  if (nodes !== undefined) {
    const subscribers = int('subscribers', values.subscribers);
    const transport = values.transport as Mix;
    if (values.sustained) {
      const cluster = { nodes, baseline: values.baseline };
      return [
        {
          kind: 'sustained',
          transport,
          subscribers,
          rate: int('rate', values.rate),
          seconds: int('seconds', values.seconds),
          bare: false,
          codecast: true,
          cluster,
        },
      ];
    }
    return [{ kind: 'burst', transport, subscribers, bare: false, codecast: true, cluster: { nodes, baseline: !values['no-baseline'] } }];
  }
  const transport = values.transport as Mix;
  const subscribers = int('subscribers', values.subscribers);
  if (values.sustained) {
    return [
      {
        kind: 'sustained',
        transport,
        subscribers,
        rate: int('rate', values.rate),
        seconds: int('seconds', values.seconds),
        // Against a bare broadcaster only when asked: --bare or --bare-only.
        bare: transport !== 'mixed' && !values.url && (values.bare || values['bare-only']),
        codecast: !values['bare-only'],
      },
    ];
  }
  return [
    {
      kind: 'burst',
      transport,
      subscribers,
      bare: transport !== 'mixed' && !values['no-bare'] && !values.url,
      codecast: !values['bare-only'],
    },
  ];
}

function build(): void {
  if (values.url || values['no-build'] || values['codecast-dir']) return;
  progress('building: npx tsc -p tsconfig.json');
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const out = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) throw new Error(`the build failed:\n${out}`);
    progress(`the build reported errors; running the last emitted dist/ anyway:\n${out.slice(0, 2000)}`);
  }
}

async function alsoCodecast(maxConnections: number): Promise<Target[]> {
  if (!values['also-dir']) return [];
  return [
    await startCodecast({ maxConnections: maxConnections + 100, perUser, dir: values['also-dir'], ...(profileDir ? { profileDir } : {}) }),
  ];
}

async function codecast(maxConnections: number, env?: Record<string, string>, store: StoreKind = stores[0] as StoreKind): Promise<Target> {
  if (values.url) {
    return remoteCodecast(values.url, values.token as string, perUser, values.pid ? int('pid', values.pid) : undefined);
  }
  const dir = values['codecast-dir'];
  return startCodecast({
    maxConnections: maxConnections + 100,
    perUser,
    store,
    ...(dir ? { dir } : {}),
    ...(profileDir ? { profileDir } : {}),
    ...(env ? { env } : {}),
  });
}

/** N nodes on PostgreSQL and Redis, each admitting its share of `subscribers`. */
function cluster(count: number, subscribers: number): Promise<Target> {
  const dir = values['codecast-dir'];
  return startCluster({
    nodes: count,
    maxConnections: Math.ceil(subscribers / count) + 100,
    perUser,
    redis: !values['no-redis'],
    ...(dir ? { dir } : {}),
    ...(profileDir ? { profileDir } : {}),
  });
}

/** What a cluster plan runs: the N nodes first, then one node on the same stores, then one on SQLite (bursts only). */
function clusterServers(plan: ClusterPlan, subscribers: number, withSqlite: boolean): (() => Promise<Target>)[] {
  const servers = [() => cluster(plan.nodes, subscribers)];
  if (plan.baseline && plan.nodes > 1) servers.push(() => cluster(1, subscribers));
  if (plan.baseline && withSqlite) servers.push(() => codecast(subscribers, undefined, 'sqlite'));
  return servers;
}

/** The stores after the first, for the modes that compare them (burst and sustained). */
async function otherStores(maxConnections: number): Promise<Target[]> {
  const targets: Target[] = [];
  for (const store of stores.slice(1)) targets.push(await codecast(maxConnections, undefined, store));
  return targets;
}

const profiles: { label: string; summary: ProfileSummary }[] = [];

async function finish(target: Target, result: BurstResult | SustainedResult, label: string): Promise<void> {
  const profile = await target.stop();
  if (profile && existsSync(profile)) {
    result.profile = profile;
    const summary = summarizeProfile(profile, { fromUs: result.windowUs.from, toUs: result.windowUs.to, top: 30 });
    profiles.push({ label, summary });
    progress(`profile of ${label} (publish window):\n${formatProfile(summary)}`);
  }
}

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The commit measured, and whether src/ had uncommitted changes (others work in the tree). */
function gitState(): { commit: string; srcChanges: string[] } | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO }).toString().trim();
    const srcChanges = execFileSync('git', ['status', '--short', 'src'], { cwd: REPO }).toString().split('\n').filter(Boolean);
    return { commit, srcChanges };
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  build();
  const bursts: BurstResult[] = [];
  const sustained: SustainedResult[] = [];
  const attacks: AttackResult[] = [];
  const soaks: SoakResult[] = [];
  const started = new Date();
  // The machine is shared: how busy it was says how far to trust a latency.
  const loadAtStart = loadavg();
  const repeat = int('repeat', values.repeat);
  const rounds = new Map<Plan, number>();
  const all = plans().flatMap((plan): Plan[] => (plan.kind === 'burst' ? Array.from({ length: repeat }, () => plan) : [plan]));
  for (const plan of all) {
    const round = (rounds.get(plan) ?? 0) + 1;
    rounds.set(plan, round);
    if (plan.kind === 'attack') {
      const subscribers = int('subscribers', values.subscribers);
      const target = await codecast(subscribers);
      try {
        attacks.push(
          await runAttack(
            target,
            {
              ...common,
              transport: values.transport as Mix,
              subscribers,
              attack: plan.attack,
              rate: int('rate', values.rate),
              baselineSeconds: int('baseline-seconds', values['baseline-seconds']),
              attackSeconds: int('attack-seconds', values['attack-seconds']),
              afterSeconds: int('after-seconds', values['after-seconds']),
              warmupSeconds: int('warmup-seconds', values['warmup-seconds'], 0),
              perUser,
              maxHeld: int('max-held', values['max-held']),
              attackConcurrency: int('attack-concurrency', values['attack-concurrency']),
            },
            progress,
          ),
        );
        progress(`\n${formatAttack(attacks.at(-1) as AttackResult)}`);
      } finally {
        await target.stop();
      }
    } else if (plan.kind === 'soak') {
      const subscribers = int('subscribers', values.subscribers);
      // Room for the ones coming back while the server has not yet seen them go.
      const target = await codecast(Math.ceil(subscribers * 1.2), { CODECAST_MAX_CONNECTIONS_PER_USER: String(perUser * 2) });
      try {
        soaks.push(
          await runSoak(
            target,
            {
              ...common,
              transport: values.transport as Mix,
              subscribers,
              rate: int('rate', values.rate),
              minutes: positive('minutes', values.minutes),
              periodSeconds: int('period-seconds', values['period-seconds']),
              reconnectFraction: positive('reconnect-fraction', values['reconnect-fraction'], 1),
              warmupPeriods: int('warmup-periods', values['warmup-periods'], 0),
              pauseMs: 500,
              drainMs: 60_000,
              fdSettleMs: 60_000,
            },
            progress,
          ),
        );
      } finally {
        await target.stop();
      }
    } else if (plan.kind === 'burst') {
      const options = { ...common, ...burstShape, transport: plan.transport, subscribers: plan.subscribers };
      const targets: Target[] = [];
      try {
        if (plan.bare) targets.push(await startBare(plan.transport as Transport, profileDir ? { profileDir } : {}));
        if (plan.cluster) {
          for (const start of clusterServers(plan.cluster, plan.subscribers, true)) targets.push(await start());
        } else if (plan.codecast) {
          targets.push(
            await codecast(plan.subscribers),
            ...(await otherStores(plan.subscribers)),
            ...(await alsoCodecast(plan.subscribers)),
          );
        }
        const results = await runBursts(targets, options, progress);
        for (const [i, target] of targets.entries()) {
          const result = results[i] as BurstResult;
          result.round = round;
          await finish(target, result, `${target.name} ${plan.transport} ${plan.subscribers}`);
          bursts.push(result);
        }
      } finally {
        for (const target of targets) await target.stop();
      }
    } else {
      const options = {
        ...common,
        transport: plan.transport,
        subscribers: plan.subscribers,
        rate: plan.rate,
        seconds: plan.seconds,
        warmupSeconds: int('warmup-seconds', values['warmup-seconds'], 0),
        intervalSeconds: int('interval-seconds', values['interval-seconds']),
        drainMs: 3000,
      };
      // One server at a time: a sustained run is long, and two would share the load clients' CPU.
      const servers: (() => Promise<Target>)[] = [];
      if (plan.bare) servers.push(() => startBare(plan.transport as Transport, profileDir ? { profileDir } : {}));
      const sustainedStores: readonly StoreKind[] = values.store === undefined ? ['sqlite'] : stores;
      if (plan.cluster) servers.push(...clusterServers(plan.cluster, plan.subscribers, false));
      else if (plan.codecast) for (const store of sustainedStores) servers.push(() => codecast(plan.subscribers, undefined, store));
      if (plan.codecast && values['also-dir']) servers.push(async () => (await alsoCodecast(plan.subscribers))[0] as Target);
      for (const start of servers) {
        const target = await start();
        try {
          const result = await runSustained(target, options, progress);
          await finish(target, result, `${target.name} sustained ${plan.transport} ${plan.subscribers}`);
          sustained.push(result);
        } finally {
          await target.stop();
        }
      }
    }
  }

  const compared: Comparison[] = comparisons(bursts);
  const medians = repeat > 1 ? medianRatios(compared) : [];
  const clusterCompared = clusterComparisons(bursts);
  const out = [
    formatBurstTable(bursts),
    compared.length ? formatComparisons(compared) : '',
    medians.length ? `Median over ${repeat} rounds:\n${formatComparisons(medians)}` : '',
    formatClusterComparisons(clusterCompared),
    formatNodeGroups(bursts),
    ...sustained.map(formatSustained),
    formatClusterTargets(bursts, sustained),
    ...attacks.map(formatAttack),
    ...soaks.map(formatSoak),
  ]
    .filter((s) => s !== '')
    .join('\n\n');
  console.log(`\n${out}\n`);

  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadAverage: { atStart: loadAtStart, atEnd: loadavg() },
  };
  const versions = {
    codecast: version('..'),
    fastify: version('fastify'),
    ws: version('ws'),
    'socket.io': version('socket.io'),
    'engine.io': version('engine.io'),
  };
  const git = gitState();
  const what =
    values.suite ??
    (values.attack !== undefined
      ? `attack-${values.attack}`
      : values.soak
        ? `soak-${values.subscribers}-${values.minutes}min`
        : values.sustained
          ? `sustained-${values.transport}${nodes === undefined ? '' : `-${nodes}-nodes`}`
          : `${values.transport}-${values.subscribers}${nodes === undefined ? '' : `-${nodes}-nodes`}`);
  const file = values.out ?? join(REPO, 'bench', 'results', `${started.toISOString().replace(/[:.]/g, '-')}-${what}.json`);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ started: started.toISOString(), command: process.argv.slice(2), machine, versions, git, bursts, comparisons: compared, medianComparisons: medians, clusterComparisons: clusterCompared, sustained, attacks, soaks, profiles }, null, 2)}\n`,
  );
  progress(`wrote ${file}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
