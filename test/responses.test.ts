// Issue 9: every response follows the contract. Errors that Fastify, ws or
// Node's HTTP parser answered in their own shape (bad percent-encoding, an
// over-long path segment, a request that is not HTTP, headers too large, a
// refused WebSocket handshake) answer the catalog's {error, message}.
// (The pages' CSP is in web-docs.test.ts; engine.io's own answers under
// /socket.io/ are covered elsewhere.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCatalog } from '../src/domain/errors.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from './support/server.js';
import { rawHttp, type RawHttpAnswer } from './support/raw-clients.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.stop());

type RawAnswer = RawHttpAnswer;

/** Writes `request` as is on a fresh socket and reads the answer until the server closes. */
const rawRequest = (request: string | Buffer): Promise<RawAnswer> => rawHttp(t.url, request);

const get = (path: string) => rawRequest(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

/** The contract's error shape: JSON {error, message}, a catalog code with its status. */
function assertCatalogError(answer: { status: number; contentType: string | undefined; body: string }, error: string, what: string): void {
  assert.match(answer.contentType ?? '', /^application\/json/, `${what}: content type`);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    assert.fail(`${what}: the body is not JSON: ${answer.body}`);
  }
  assert.deepEqual(Object.keys(parsed).sort(), ['error', 'message'], `${what}: ${answer.body}`);
  assert.equal(parsed.error, error, `${what}: ${answer.body}`);
  assert.equal(answer.status, errorCatalog[error as keyof typeof errorCatalog].status, `${what}: status`);
  assert.equal(typeof parsed.message, 'string');
}

const fromRaw = (a: RawAnswer) => ({ status: a.status, contentType: a.headers.get('content-type'), body: a.body });

describe('errors before routing follow the contract', () => {
  test("bad percent-encoding in the path answers 400 invalid_request, not Fastify's shape", async () => {
    for (const path of ['/api/v1/codes/%E0%A4%A', '/api/v1/%', '/%', '/api/v1/codes/%ZZ', '/assets/%C0%AF', '/api/v1/users/%FF']) {
      assertCatalogError(fromRaw(await get(path)), 'invalid_request', path);
    }
  });

  test('bad percent-encoding in the query string is a 400 too, or ignored where the route takes no such parameter', async () => {
    const res = await t.api('GET', '/api/v1/codes?since=%E0%A4%A');
    assertCatalogError(
      { status: res.status, contentType: res.headers.get('content-type') ?? undefined, body: JSON.stringify(res.body) },
      'invalid_request',
      'since=%E0%A4%A',
    );
  });

  test("a path segment past the router's limit is 400 invalid_request", async () => {
    const res = await get(`/api/v1/users/${'a'.repeat(300)}`);
    assertCatalogError(fromRaw(res), 'invalid_request', 'a 300-character username in the path');
  });

  test('a request Node cannot parse answers 400 invalid_request in our shape, and the socket closes', async () => {
    const requests = [
      'NOT HTTP AT ALL\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'POST /api/v1/codes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      Buffer.from('GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'),
    ];
    for (const request of requests) {
      const answer = await rawRequest(request);
      assertCatalogError(fromRaw(answer), 'invalid_request', JSON.stringify(request.toString()));
      assert.equal(answer.headers.get('connection'), 'close');
    }
  });

  test('WebSocket handshakes that ws refuses answer in our shape', async () => {
    const upgrade = 'Host: x\r\nConnection: Upgrade\r\n';
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const cases: [string, string, string][] = [
      [
        `POST /api/v1/ws HTTP/1.1\r\n${upgrade}Upgrade: websocket\r\n${key}Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n`,
        'not_found',
        'POST',
      ],
      [`GET /api/v1/ws HTTP/1.1\r\n${upgrade}Upgrade: h2c\r\n\r\n`, 'invalid_request', 'Upgrade: h2c'],
      [`GET /api/v1/ws HTTP/1.1\r\n${upgrade}Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n`, 'invalid_request', 'no key'],
      [
        `GET /api/v1/ws HTTP/1.1\r\n${upgrade}Upgrade: websocket\r\n${key}Sec-WebSocket-Version: 12\r\n\r\n`,
        'invalid_request',
        'version 12',
      ],
      [
        `GET /api/v1/ws HTTP/1.1\r\n${upgrade}Upgrade: websocket\r\n${key}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a,,b\r\n\r\n`,
        'invalid_request',
        'bad protocol list',
      ],
      [`GET /nowhere HTTP/1.1\r\n${upgrade}Upgrade: websocket\r\n${key}Sec-WebSocket-Version: 13\r\n\r\n`, 'not_found', 'unknown path'],
    ];
    for (const [request, error, what] of cases) {
      const answer = await rawRequest(request);
      assertCatalogError(fromRaw(answer), error, what);
      if (what === 'version 12') assert.equal(answer.headers.get('sec-websocket-version'), '13');
    }
  });

  test('an Expect the server does not know is ignored rather than answered with an empty 417', async () => {
    const answer = await rawRequest('GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nConnection: close\r\n\r\n');
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body), { status: 'ok' });
    const unknown = await rawRequest('GET /nothing HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nConnection: close\r\n\r\n');
    assertCatalogError(fromRaw(unknown), 'not_found', 'Expect on an unknown path');
  });

  test('files outside the asset folders, and the folders themselves, are not_found', async () => {
    for (const path of [
      '/assets/',
      '/assets/../package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/vendor/uplot/package.json',
      '/vendor/uplot/',
    ]) {
      assertCatalogError(fromRaw(await get(path)), 'not_found', path);
    }
  });

  test('headers larger than Node accepts answer 431 headers_too_large', async () => {
    const answer = await rawRequest(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assertCatalogError(fromRaw(answer), 'headers_too_large', 'a 20 kB header');
  });

  test('methods a path does not serve, OPTIONS and HEAD of unknown paths answer not_found in our shape', async () => {
    for (const [method, path] of [
      ['OPTIONS', '/api/v1/codes'],
      ['OPTIONS', '*'],
      ['PUT', '/api/v1/codes/1'],
      ['TRACE', '/'],
      ['PATCH', '/metrics'],
      ['POST', '/healthz'],
      ['DELETE', '/api/v1/docs'],
    ]) {
      const answer = await rawRequest(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      assertCatalogError(fromRaw(answer), 'not_found', `${method} ${path}`);
    }
    const head = await fetch(`${t.url}/api/v1/nothing`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    assert.match(head.headers.get('content-type') ?? '', /^application\/json/);
    // HEAD of a real route answers as its GET would, without a body.
    const healthz = await fetch(`${t.url}/healthz`, { method: 'HEAD' });
    assert.equal(healthz.status, 200);
    assert.equal(await healthz.text(), '');
  });

  test('bodies: unknown content types, bad JSON, prototype poisoning and empty bodies answer catalog errors', async () => {
    const cases: [string, string | undefined, string, string][] = [
      ['application/xml', '<code>A</code>', 'unsupported_media_type', 'xml'],
      ['multipart/form-data; boundary=x', '--x--', 'unsupported_media_type', 'multipart'],
      ['application/octet-stream', 'AAAA', 'unsupported_media_type', 'octet-stream'],
      // Fastify's JSON parser refuses prototype poisoning as bad JSON.
      ['application/json', '{"code":"A","__proto__":{"admin":true}}', 'malformed_json', '__proto__'],
      ['application/json', '{"code":"A","constructor":{"prototype":{"x":1}}}', 'malformed_json', 'constructor.prototype'],
      ['application/json', '{"code":', 'malformed_json', 'truncated'],
      ['application/json', '', 'malformed_json', 'empty'],
    ];
    for (const [contentType, body, error, what] of cases) {
      const res = await fetch(`${t.url}/api/v1/codes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': contentType },
        body,
      });
      assertCatalogError(
        { status: res.status, contentType: res.headers.get('content-type') ?? undefined, body: await res.text() },
        error,
        what,
      );
    }
  });

  test('the server still serves after all of it', async () => {
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    await t.publish('AFTER-THE-SWEEP');
  });
});
