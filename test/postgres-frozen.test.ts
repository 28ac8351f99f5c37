/**
 * A PostgreSQL server that stops answering without closing anything: its
 * postmaster and backends SIGSTOPped, as a hung host or a stalled disk
 * would leave it. Nothing fails on its own there; only codecast's own
 * deadlines answer. A private server of this test's own, never the shared
 * one, and always thawed and destroyed, whatever the test did.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { connectSubscriber, type Subscriber } from './support/clients.js';
import { PrivatePostgres } from './support/postgres.js';
import { startTestServer, type ApiResponse, type TestServer } from './support/server.js';

// The publish queue's deadline is the connect timeout; the statement
// timeout is short so that a publish running on a connection already open,
// which waits for the client's own timeout (the statement timeout plus the
// store's 5 s grace), answers soon after.
const CONNECT_TIMEOUT_S = 4;
const STATEMENT_TIMEOUT_S = 1;
const CLIENT_GRACE_S = 5;
const READY_WITHIN_MS = 3_000;
const MARGIN_MS = 1_500;

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function assertRefused(res: ApiResponse, what: string): void {
  assert.equal(res.status, 503, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error, 'database_unavailable', what);
  assert.ok(Number(res.headers.get('retry-after')) > 0, `${what}: Retry-After`);
}

describe('PostgreSQL frozen with SIGSTOP', () => {
  let postgres: PrivatePostgres | undefined;
  let t: TestServer | undefined;
  let subscriber: Subscriber | undefined;

  before(async () => {
    postgres = await PrivatePostgres.create();
    await postgres.start();
    const client = new pg.Client({ connectionString: postgres.url() });
    await client.connect();
    await client.query('create database codecast');
    await client.end();
    t = await startTestServer({
      DATABASE_URL: postgres.url('codecast'),
      CODECAST_DB_CONNECT_TIMEOUT_SECONDS: String(CONNECT_TIMEOUT_S),
      CODECAST_DB_STATEMENT_TIMEOUT_SECONDS: String(STATEMENT_TIMEOUT_S),
    });
  });
  after(async () => {
    postgres?.thaw();
    await subscriber?.close();
    await t?.stop();
    await postgres?.destroy();
  });

  test('publishes and /readyz fail fast, nothing refused is ever stored or sent, and it recovers by itself', async () => {
    const server = t as TestServer;
    const frozen = postgres as PrivatePostgres;
    const alice = await server.createUser('frozen-alice');
    subscriber = await connectSubscriber('sse', server.url, { token: alice.token });
    await subscriber.waitForEvent('hello');
    const before = await server.publish('BEFORE-FREEZE');
    await subscriber.waitForCodes(1);

    const refused = ['FROZEN-1', 'FROZEN-2', 'FROZEN-3', 'FROZEN-4', 'FROZEN-5'];
    frozen.freeze();
    try {
      const readyAt = Date.now();
      const ready = await server.api('GET', '/readyz', { token: null });
      const readyMs = Date.now() - readyAt;
      assertRefused(ready, '/readyz');
      assert.equal(ready.body.database, 'unreachable');
      assert.ok(readyMs < READY_WITHIN_MS, `/readyz answered after ${readyMs} ms`);

      const startedAt = Date.now();
      const answers = await Promise.all(
        refused.map(async (code) => {
          const res = await server.api('POST', '/api/v1/codes', { body: { code } });
          return { code, res, ms: Date.now() - startedAt };
        }),
      );
      const times = answers.map((a) => `${a.code} ${a.ms} ms`).join(', ');
      for (const { code, res } of answers) assertRefused(res, code);
      // A publish waits at most the deadline in the queue, then runs at
      // most its own bound (the connect timeout, or the client's timeout
      // on a connection already open). So the one running answers after its
      // own bound, the one whose turn came just before its deadline after
      // both, and every other one at the deadline. (Before the queue had a
      // deadline, each waited for all ahead: 4, 8, 12, 16, 20 s.)
      const deadlineMs = CONNECT_TIMEOUT_S * 1000;
      const ownBoundMs = Math.max(deadlineMs, (STATEMENT_TIMEOUT_S + CLIENT_GRACE_S) * 1000);
      const atDeadline = answers.filter((a) => a.ms <= deadlineMs + MARGIN_MS);
      assert.ok(atDeadline.length >= refused.length - 2, `queued publishes answer at their deadline: ${times}`);
      for (const { ms } of answers) assert.ok(ms <= deadlineMs + ownBoundMs + MARGIN_MS, `every publish answers in bounded time: ${times}`);
    } finally {
      frozen.thaw();
    }

    await eventually(async () => (await server.api('GET', '/readyz', { token: null })).status === 200, '/readyz 200 after SIGCONT', 30_000);
    let afterId = 0;
    await eventually(
      async () => {
        const res = await server.api('POST', '/api/v1/codes', { body: { code: 'AFTER-THAW' } });
        if (res.status === 201) afterId = res.body.code.id as number;
        return res.status === 201;
      },
      'a publish accepted after SIGCONT',
      30_000,
    );
    await subscriber.waitForCodes(2, 10_000);
    assert.equal(subscriber.status, 'open', 'the stream stayed up');
    assert.deepEqual(subscriber.codeIds, [before.id, afterId], 'the subscriber got what was accepted, nothing refused');

    const history = await server.api('GET', '/api/v1/codes?since=0&limit=1000&all=true');
    assert.equal(history.status, 200);
    const stored = (history.body.codes as { code: string }[]).map((c) => c.code);
    assert.deepEqual(stored, ['BEFORE-FREEZE', 'AFTER-THAW'], 'no refused publish was stored');
  });
});
