// What a cluster run costs Redis and PostgreSQL, read before and after the
// measured stretch: Redis commands by name and the server's own CPU (INFO),
// and the bench database's transactions and rows (pg_stat_database) with
// the CPU of the PostgreSQL backends serving it (/proc of their pids).
// These feed the capacity model in docs/BENCHMARKS.md.
import { createClient } from '@redis/client';
import pg from 'pg';
import { cpuMs, round } from './measure.js';

/** Counters of the two servers at one moment. */
export interface BackendSample {
  readonly redis: {
    /** calls per command (INFO commandstats), the whole server's. */
    readonly calls: Readonly<Record<string, number>>;
    /** µs spent in commands (the sum of commandstats' usec). */
    readonly usec: number;
    /** The server process's CPU (INFO cpu, user + sys, its threads included), ms. */
    readonly cpuMs: number;
    readonly netInputBytes: number;
    readonly netOutputBytes: number;
  } | null;
  readonly postgres: {
    readonly xactCommit: number;
    readonly tupInserted: number;
    readonly tupUpdated: number;
    readonly tupDeleted: number;
    readonly tupReturned: number;
    readonly tupFetched: number;
    /** CPU of the backends connected to the bench database now (a backend that ended meanwhile is not counted). */
    readonly backendCpuMs: Readonly<Record<number, number>>;
  } | null;
}

/** The difference between two samples, per accepted publish. */
export interface BackendWork {
  readonly publishes: number;
  readonly redis: {
    readonly callsPerPublish: Readonly<Record<string, number>>;
    readonly commandsPerPublish: number;
    readonly commandUsPerPublish: number;
    readonly cpuUsPerPublish: number;
    readonly bytesInPerPublish: number;
    readonly bytesOutPerPublish: number;
  } | null;
  readonly postgres: {
    readonly commitsPerPublish: number;
    readonly rowsWrittenPerPublish: number;
    readonly rowsReadPerPublish: number;
    readonly backendCpuUsPerPublish: number;
  } | null;
}

/** Reads the counters of one Redis server and one PostgreSQL database. */
export class BackendProbe {
  readonly #redis: ReturnType<typeof createClient> | undefined;
  readonly #postgres: pg.Client | undefined;

  private constructor(redis: ReturnType<typeof createClient> | undefined, postgres: pg.Client | undefined) {
    this.#redis = redis;
    this.#postgres = postgres;
  }

  static async open(redisUrl: string | undefined, postgresUrl: string | undefined): Promise<BackendProbe> {
    let redis: ReturnType<typeof createClient> | undefined;
    if (redisUrl) {
      redis = createClient({ url: redisUrl });
      redis.on('error', () => undefined);
      await redis.connect();
    }
    let postgres: pg.Client | undefined;
    if (postgresUrl) {
      postgres = new pg.Client({ connectionString: postgresUrl });
      postgres.on('error', () => undefined);
      await postgres.connect();
    }
    return new BackendProbe(redis, postgres);
  }

  async sample(): Promise<BackendSample> {
    return { redis: await this.#sampleRedis(), postgres: await this.#samplePostgres() };
  }

  async #sampleRedis(): Promise<BackendSample['redis']> {
    if (!this.#redis) return null;
    const text = String(await this.#redis.sendCommand(['INFO', 'all']));
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    const calls: Record<string, number> = {};
    let usec = 0;
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      calls[match[1] as string] = Number(match[2]);
      usec += Number(match[3]);
    }
    return {
      calls,
      usec,
      cpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1000,
      netInputBytes: field('total_net_input_bytes'),
      netOutputBytes: field('total_net_output_bytes'),
    };
  }

  async #samplePostgres(): Promise<BackendSample['postgres']> {
    if (!this.#postgres) return null;
    // Counters of the statements finished so far reach pg_stat_database when a backend reports them (at most a second late).
    const { rows } = await this.#postgres.query<Record<string, string>>(
      `select xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched
         from pg_stat_database where datname = current_database()`,
    );
    const { rows: backends } = await this.#postgres.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    const backendCpuMs: Record<number, number> = {};
    for (const { pid } of backends) {
      const ms = cpuMs(pid);
      if (ms !== null) backendCpuMs[pid] = ms;
    }
    const row = rows[0] ?? {};
    const n = (key: string) => Number(row[key] ?? 0);
    return {
      xactCommit: n('xact_commit'),
      tupInserted: n('tup_inserted'),
      tupUpdated: n('tup_updated'),
      tupDeleted: n('tup_deleted'),
      tupReturned: n('tup_returned'),
      tupFetched: n('tup_fetched'),
      backendCpuMs,
    };
  }

  async close(): Promise<void> {
    await this.#redis?.quit().catch(() => undefined);
    await this.#postgres?.end().catch(() => undefined);
  }
}

/** Work per publish between two samples. */
export function backendWork(before: BackendSample, after: BackendSample, publishes: number): BackendWork {
  const per = (value: number, digits = 2) => (publishes > 0 ? (round(value / publishes, digits) as number) : 0);
  let redis: BackendWork['redis'] = null;
  if (before.redis && after.redis) {
    const a = after.redis;
    const b = before.redis;
    const callsPerPublish: Record<string, number> = {};
    let commands = 0;
    for (const [name, calls] of Object.entries(a.calls)) {
      const delta = calls - (b.calls[name] ?? 0);
      if (delta <= 0) continue;
      commands += delta;
      callsPerPublish[name] = per(delta);
    }
    redis = {
      callsPerPublish,
      commandsPerPublish: per(commands),
      commandUsPerPublish: per(a.usec - b.usec, 1),
      cpuUsPerPublish: per((a.cpuMs - b.cpuMs) * 1000, 1),
      bytesInPerPublish: per(a.netInputBytes - b.netInputBytes, 0),
      bytesOutPerPublish: per(a.netOutputBytes - b.netOutputBytes, 0),
    };
  }
  let postgres: BackendWork['postgres'] = null;
  if (before.postgres && after.postgres) {
    const a = after.postgres;
    const b = before.postgres;
    // Backends alive at both ends; one that ended meanwhile took its CPU with it.
    let cpu = 0;
    for (const [pid, ms] of Object.entries(a.backendCpuMs)) cpu += ms - (b.backendCpuMs[Number(pid)] ?? 0);
    postgres = {
      commitsPerPublish: per(a.xactCommit - b.xactCommit),
      rowsWrittenPerPublish: per(a.tupInserted - b.tupInserted + a.tupUpdated - b.tupUpdated + a.tupDeleted - b.tupDeleted),
      rowsReadPerPublish: per(a.tupReturned - b.tupReturned + a.tupFetched - b.tupFetched),
      backendCpuUsPerPublish: per(cpu * 1000, 1),
    };
  }
  return { publishes, redis, postgres };
}
