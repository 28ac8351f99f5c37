// Whom a request is charged to, over every way in (the API, /metrics, SSE,
// WebSocket, Socket.IO), with real requests carrying forged or proxied
// X-Forwarded-For headers. Clients connect from other loopback addresses
// (all of 127/8 reaches the server on Linux): 127.0.0.9 plays the proxy.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from './support/memory-log.js';
import { startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';
import { get, refusals, type From } from './support/ways-in.js';

const BUDGET = 3;
const PROXY = '127.0.0.9';
const METRICS_TOKEN = 'metrics-secret-0123456789abcdef';
let attempt = 0;

/** Spends the whole failure budget of whoever `from` is charged to, on the API. */
async function exhaust(t: TestServer, from: From): Promise<void> {
  for (let i = 0; i < BUDGET; i++) assert.equal(await refusals.api!(t.url, from, ++attempt), 'unauthorized', `attempt ${i + 1}`);
}

/** Every way in refuses `from` as the client whose budget is spent, or as merely unknown. */
async function assertEveryWayIn(
  t: TestServer,
  expected: 'too_many_auth_failures' | 'unauthorized',
  from: (index: number) => From,
): Promise<void> {
  for (const [index, [way, refusal]] of Object.entries(refusals).entries()) {
    assert.equal(await refusal(t.url, from(index), ++attempt), expected, `${way} from ${JSON.stringify(from(index))}`);
  }
}

/** The remote address the request log gave the requests to `path`. */
function loggedAddresses(lines: readonly string[], path: string): string[] {
  return lines
    .map((line) => JSON.parse(line) as { req?: { url?: string; remoteAddress?: string } })
    .filter((entry) => entry.req?.url === path)
    .map((entry) => entry.req?.remoteAddress ?? '');
}

async function idleSocket(t: TestServer, localAddress: string): Promise<{ socket: Socket; received: () => string }> {
  const { port } = new URL(t.url);
  const socket = connect({ host: '127.0.0.1', port: Number(port), localAddress });
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => received };
}

const pendingOf = (t: TestServer) => (t.server.stats() as { pending: { pending: number } }).pending.pending;

describe('without trusted proxies', () => {
  let t: TestServer;
  const log = memoryLogger();
  before(async () => {
    t = await startTestServer(
      { CODECAST_AUTH_FAILURES_PER_MINUTE: String(BUDGET), CODECAST_METRICS_TOKEN: METRICS_TOKEN },
      { logger: log.logger },
    );
  });
  after(() => t.stop());

  test('a forged X-Forwarded-For is ignored: every way in charges the peer', async () => {
    // Each attempt claims to come from somewhere else; all are the peer's.
    for (let i = 0; i < BUDGET; i++) {
      assert.equal(await refusals.api!(t.url, { from: '127.0.0.2', xff: `203.0.113.${i + 1}` }, ++attempt), 'unauthorized');
    }
    await assertEveryWayIn(t, 'too_many_auth_failures', (i) => ({ from: '127.0.0.2', xff: `198.51.100.${i}` }));
    // Other peers have their own budgets, whatever they claim: one fresh peer per way in.
    await assertEveryWayIn(t, 'unauthorized', (i) => ({ from: `127.0.0.${30 + i}`, xff: '127.0.0.2' }));
  });

  test('the request log shows the peer, not the header', async () => {
    assert.equal((await get(t.url, '/healthz?who=forged', { from: '127.0.0.4', xff: '203.0.113.77' })).status, 200);
    assert.deepEqual(loggedAddresses(log.lines, '/healthz?who=forged'), ['127.0.0.4']);
  });
});

describe('behind a trusted proxy', () => {
  let t: TestServer;
  const log = memoryLogger();
  before(async () => {
    t = await startTestServer(
      {
        CODECAST_TRUSTED_PROXIES: `${PROXY}, 10.0.0.0/8`,
        CODECAST_AUTH_FAILURES_PER_MINUTE: String(BUDGET),
        CODECAST_METRICS_TOKEN: METRICS_TOKEN,
        CODECAST_MAX_PENDING_PER_ADDRESS: '5',
        CODECAST_MAX_PENDING_CONNECTIONS: '40',
      },
      { logger: log.logger },
    );
  });
  after(() => t.stop());

  test("each client behind the proxy has its own budget, on every way in, and the proxy's is untouched", async () => {
    await exhaust(t, { from: PROXY, xff: '203.0.113.1' });
    await assertEveryWayIn(t, 'too_many_auth_failures', () => ({ from: PROXY, xff: '203.0.113.1' }));
    // Other clients through the same proxy are merely unknown: one fresh client per way in.
    await assertEveryWayIn(t, 'unauthorized', (i) => ({ from: PROXY, xff: `203.0.113.${10 + i}` }));
  });

  test('a client cannot step out of its budget by sending its own X-Forwarded-For', async () => {
    await exhaust(t, { from: PROXY, xff: '203.0.113.2' });
    // The client wrote "198.51.100.9"; the proxy appended the address it saw.
    await assertEveryWayIn(t, 'too_many_auth_failures', () => ({ from: PROXY, xff: '198.51.100.9, 203.0.113.2' }));
    // Past a chain of trusted proxies (10.1.2.3 trusted too) the first untrusted address is the client.
    await assertEveryWayIn(t, 'too_many_auth_failures', () => ({ from: PROXY, xff: '198.51.100.9, 203.0.113.2, 10.1.2.3' }));
  });

  test('an untrusted peer sending X-Forwarded-For is charged itself', async () => {
    await exhaust(t, { from: '127.0.0.2', xff: '203.0.113.3' });
    await assertEveryWayIn(t, 'too_many_auth_failures', (i) => ({ from: '127.0.0.2', xff: `203.0.113.${30 + i}` }));
    // And the client it named has its own budget still.
    assert.equal(await refusals.api!(t.url, { from: PROXY, xff: '203.0.113.3' }, ++attempt), 'unauthorized');
  });

  test('an IPv6 client behind the proxy is its /64, as a direct one is', async () => {
    await exhaust(t, { from: PROXY, xff: '2001:db8:0:7::1' });
    assert.equal(await refusals.api!(t.url, { from: PROXY, xff: '2001:db8:0:7:ffff::2' }, ++attempt), 'too_many_auth_failures');
    assert.equal(await refusals.api!(t.url, { from: PROXY, xff: '2001:db8:0:8::1' }, ++attempt), 'unauthorized');
  });

  test('the request log shows the client the proxy names', async () => {
    assert.equal((await get(t.url, '/healthz?who=proxied', { from: PROXY, xff: '198.51.100.1, 203.0.113.5' })).status, 200);
    assert.equal((await get(t.url, '/healthz?who=direct', { from: '127.0.0.5', xff: '203.0.113.6' })).status, 200);
    assert.deepEqual(loggedAddresses(log.lines, '/healthz?who=proxied'), ['203.0.113.5']);
    assert.deepEqual(loggedAddresses(log.lines, '/healthz?who=direct'), ['127.0.0.5']);
  });

  test("the proxy's connections count only overall; Socket.IO sessions count per client behind it", async () => {
    const handshake = '/socket.io/?EIO=4&transport=polling';
    // Idle connections from the proxy, past the per-address cap of 5: all held.
    const fromProxy = await Promise.all(Array.from({ length: 8 }, () => idleSocket(t, PROXY)));
    await waitFor(() => pendingOf(t) === 8, '8 pending connections');
    assert.ok(fromProxy.every((s) => s.received() === ''));
    // A direct peer still has the per-address cap.
    const direct = await Promise.all(Array.from({ length: 6 }, () => idleSocket(t, '127.0.0.6')));
    await waitFor(() => direct.filter((s) => s.received() !== '').length === 1, 'one refusal');
    assert.match(direct.find((s) => s.received() !== '')?.received() ?? '', /too_many_pending_connections/);
    for (const s of [...fromProxy, ...direct]) s.socket.destroy();
    await waitFor(() => pendingOf(t) === 0, 'no pending connections');

    // Sessions of one client behind the proxy: 5, then refused; another client opens.
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await get(t.url, handshake, { from: PROXY, xff: '198.51.100.20' }));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 429],
    );
    assert.equal(answers[5]?.error, 'too_many_pending_connections');
    assert.equal((await get(t.url, handshake, { from: PROXY, xff: '198.51.100.21' })).status, 200);
  });
});

test('a bad CODECAST_TRUSTED_PROXIES stops the start, naming the entry', async () => {
  await assert.rejects(startTestServer({ CODECAST_TRUSTED_PROXIES: '10.0.0.1, nginx.internal' }), (error: Error) => {
    assert.match(
      error.message,
      /CODECAST_TRUSTED_PROXIES="10\.0\.0\.1, nginx\.internal" is not valid \(invalid IP address: nginx\.internal\)/,
    );
    return true;
  });
  await assert.rejects(startTestServer({ CODECAST_TRUSTED_PROXIES: '10.0.0.0/33' }), /invalid range on address: 10\.0\.0\.0\/33/);
});
