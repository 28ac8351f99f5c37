// The PostgreSQL and Redis the suite talks to. Each is probed where the
// environment says (CODECAST_TEST_POSTGRES_URL / CODECAST_TEST_REDIS_URL, or
// 127.0.0.1 on CODECAST_TEST_POSTGRES_PORT / CODECAST_TEST_REDIS_PORT, 5432
// and 6379 by default); one that does not answer is replaced by a private
// server for the run, installed first when missing and we are root. The
// servers are test/support's own (PrivatePostgres, PrivateRedis), loaded
// through tsx, so the runner and the tests start them one way.
import { tsImport } from 'tsx/esm/api';
import { ensureSystemPackages } from './system-deps.mjs';

const say = (line) => console.error(`test setup: ${line}`);

function shout(lines) {
  const bar = '!'.repeat(78);
  console.error(`\n${bar}\n${lines.map((line) => `!! ${line}`).join('\n')}\n${bar}\n`);
}

/** The services of one run: `env` for the test processes, `stop()` for the end of the run (also on failure or signal). */
export class TestServices {
  /** Variables the test processes get. */
  env = {};
  #private = [];

  /**
   * Makes sure a PostgreSQL and a Redis answer. Answers false only when the
   * run must not go on: under CI=true, a PostgreSQL that can neither be
   * reached nor started.
   */
  async ensure() {
    const postgres = await tsImport('../test/support/postgres.ts', import.meta.url);
    const redis = await tsImport('../test/support/redis.ts', import.meta.url);
    const ci = process.env.CI === 'true';

    const postgresUrl =
      process.env.CODECAST_TEST_POSTGRES_URL || `postgres://postgres@127.0.0.1:${process.env.CODECAST_TEST_POSTGRES_PORT || 5432}/postgres`;
    const postgresFound = await this.#ensureOne({
      name: 'PostgreSQL',
      url: postgresUrl,
      shown: postgres.redacted(postgresUrl),
      answers: (url) => postgres.postgresAnswers(url),
      need: { pkg: 'postgresql', present: () => postgres.findPostgresBinDir() !== undefined },
      create: async () => {
        const server = await postgres.PrivatePostgres.create();
        return { server, url: () => server.url('postgres') };
      },
    });
    // Unreachable, the URL still goes to the tests: they fail against the
    // server the run was told about, not against some default.
    this.env.CODECAST_TEST_POSTGRES_URL = postgresFound ?? postgresUrl;
    if (!postgresFound && ci) {
      console.error(
        `test setup: CI=true and no PostgreSQL: none answers at ${postgres.redacted(postgresUrl)} and none could be started. Failing the run.`,
      );
      return false;
    }
    if (!postgresFound) {
      shout([
        `No PostgreSQL answers at ${postgres.redacted(postgresUrl)} and none could be started here.`,
        'Every PostgreSQL test WILL FAIL. Start one (trust auth for user postgres), point',
        'CODECAST_TEST_POSTGRES_URL at one, or install the server (apt-get install postgresql)',
        'so the run can start its own.',
      ]);
    }

    const redisUrl = process.env.CODECAST_TEST_REDIS_URL || `redis://127.0.0.1:${process.env.CODECAST_TEST_REDIS_PORT || 6379}`;
    const redisFound = await this.#ensureOne({
      name: 'Redis',
      url: redisUrl,
      shown: redisUrl.replace(/\/\/[^@/]*@/, '//***@'),
      answers: (url) => redis.redisAnswers(url),
      need: { command: 'redis-server', pkg: 'redis-server' },
      create: async () => {
        const server = await redis.PrivateRedis.create();
        return { server, url: () => server.url() };
      },
    });
    this.env.CODECAST_TEST_REDIS_URL = redisFound ?? redisUrl;
    if (!redisFound) {
      shout([
        `No Redis answers at ${redisUrl} and none could be started here.`,
        'Every Redis test WILL FAIL. Start one, or point CODECAST_TEST_REDIS_URL at one.',
      ]);
    }
    return true;
  }

  /** The URL of a server that answers: the one asked for, or a private one started now; undefined if neither. */
  async #ensureOne({ name, url, shown, answers, need, create }) {
    if (await answers(url)) {
      say(`${name} answers at ${shown}`);
      return url;
    }
    say(`no ${name} answers at ${shown}; starting a private one for this run`);
    if (!ensureSystemPackages([need])) return undefined;
    let made;
    try {
      made = await create();
      this.#private.push(made.server);
      await made.server.start();
    } catch (error) {
      console.error(`test setup: could not start a private ${name}: ${error.message}`);
      return undefined;
    }
    say(`private ${name} at ${made.url()} (${made.server.dir})`);
    return made.url();
  }

  /** Stops and removes the private servers; the shared ones are never touched. */
  async stop() {
    const servers = this.#private.splice(0);
    await Promise.all(
      servers.map((server) =>
        server.destroy().catch((error) => console.error(`test setup: stopping a private server in ${server.dir}: ${error.message}`)),
      ),
    );
  }
}
