// deploy/nginx/codecast.conf, as shipped (only its listen port changed), run
// by Debian's nginx in front of a real codecast: subscribers of every
// transport connect through it, receive codes as they are published, and
// recover what they missed after a reconnect; the client's own address
// reaches codecast's budgets and logs through X-Forwarded-For.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectSubscriber, TRANSPORT_KINDS, type Subscriber } from './support/clients.js';
import { memoryLogger } from './support/memory-log.js';
import { nginxForTests, startNginx, type RunningNginx } from './support/nginx.js';
import { startTestServer, type TestServer } from './support/server.js';
import { get, refusals } from './support/ways-in.js';

const nginx = nginxForTests();
const BUDGET = 3;

describe('codecast behind nginx with deploy/nginx/codecast.conf', { skip: nginx.skip }, () => {
  let t: TestServer;
  let proxy: RunningNginx;
  const log = memoryLogger();
  before(async () => {
    t = await startTestServer(
      // nginx reaches codecast from 127.0.0.1; clients reach nginx from elsewhere in 127/8.
      { CODECAST_TRUSTED_PROXIES: '127.0.0.1', CODECAST_AUTH_FAILURES_PER_MINUTE: String(BUDGET) },
      { logger: log.logger },
    );
    proxy = await startNginx(nginx.path as string, [t.server.port]);
  });
  after(async () => {
    await proxy?.stop();
    await t?.stop();
  });

  /** Publishes through nginx, as the admin. */
  async function publish(code: string): Promise<number> {
    const res = await fetch(`${proxy.url}/api/v1/codes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    const body = (await res.json()) as { code: { id: number } };
    assert.equal(res.status, 201, JSON.stringify(body));
    return body.code.id;
  }

  for (const transport of TRANSPORT_KINDS) {
    test(`${transport}: connects, receives a code as it is published, and recovers after a reconnect`, async () => {
      const { token } = await t.createUser(`through-nginx-${transport}`);
      const first: Subscriber = await connectSubscriber(transport, proxy.url, { token });
      assert.equal(first.status, 'open', `refused: ${first.refusal}`);
      const firstId = await publish(`NGINX-${transport}-1`);
      // A single small event, far below any buffer: it arrives only if nginx passes it on at once.
      await first.waitForCodes(1);
      assert.deepEqual(first.codeIds, [firstId]);
      await first.close();

      const missed = [await publish(`NGINX-${transport}-2`), await publish(`NGINX-${transport}-3`)];
      const again = await connectSubscriber(transport, proxy.url, { token, since: first.lastId });
      assert.equal(again.status, 'open', `refused: ${again.refusal}`);
      await again.waitForCodes(2);
      assert.deepEqual(again.codeIds, missed);
      assert.equal(again.of('reset').length, 0);
      const live = await publish(`NGINX-${transport}-4`);
      await again.waitForCodes(3);
      assert.deepEqual(again.codeIds, [...missed, live]);
      await again.close();
    });
  }

  test('Socket.IO on long-polling alone works through it', async () => {
    const { token } = await t.createUser('through-nginx-polling');
    const sub = await connectSubscriber('socketio', proxy.url, { token, engineTransports: ['polling'] });
    assert.equal(sub.status, 'open', `refused: ${sub.refusal}`);
    const id = await publish('NGINX-POLLING');
    await sub.waitForCodes(1);
    assert.deepEqual(sub.codeIds, [id]);
    await sub.close();
  });

  test('codecast charges the client nginx names, on every way in, and a forged header does not help', async () => {
    const client = { from: '127.0.0.2' };
    let n = 0;
    for (let i = 0; i < BUDGET; i++) assert.equal(await refusals.api!(proxy.url, client, ++n), 'unauthorized');
    for (const [way, refusal] of Object.entries(refusals)) {
      if (way === 'metrics') continue; // no metrics token here: /metrics is open
      // The client claims to be someone else; nginx appends the address it saw.
      assert.equal(await refusal(proxy.url, { from: '127.0.0.2', xff: '203.0.113.9' }, ++n), 'too_many_auth_failures', way);
    }
    // Another client through the same nginx is merely unknown.
    assert.equal(await refusals.ws!(proxy.url, { from: '127.0.0.3' }, ++n), 'unauthorized');
    assert.equal(await refusals.socketio!(proxy.url, { from: '127.0.0.3' }, ++n), 'unauthorized');

    assert.equal((await get(proxy.url, '/healthz?who=nginx', { from: '127.0.0.4' })).status, 200);
    const logged = log.lines
      .map((line) => JSON.parse(line) as { req?: { url?: string; remoteAddress?: string } })
      .filter((entry) => entry.req?.url === '/healthz?who=nginx')
      .map((entry) => entry.req?.remoteAddress);
    assert.deepEqual(logged, ['127.0.0.4']);
  });

  test('nginx logged no error', () => {
    assert.doesNotMatch(proxy.errorLog(), /\[(error|crit|alert|emerg)\]/);
  });
});
