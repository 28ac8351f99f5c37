import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { errorCatalog } from '../src/domain/errors.js';
import { ADMIN_TOKEN, startTestServer, type ApiResponse, type TestServer } from './support/server.js';
import { SseReader } from './support/sse.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ CODECAST_BODY_LIMIT_BYTES: '2048' });
});
after(async () => {
  await t?.stop();
});

/** A raw request: the body is sent exactly as given, with the content type given. */
async function raw(method: string, path: string, body: string | undefined, contentType?: string): Promise<ApiResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (contentType) headers['content-type'] = contentType;
  const response = await fetch(`${t.url}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

/** The error shape: JSON with exactly the string fields `error` and `message`. */
function assertPlainError(res: ApiResponse, status: number, error: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message']);
  assert.equal(res.body.error, error);
  assert.equal(typeof res.body.message, 'string');
  assert.ok(res.body.message.length > 0);
}

test('malformed JSON is 400 malformed_json', async () => {
  assertPlainError(await raw('POST', '/api/v1/codes', '{"code": "A",', 'application/json'), 400, 'malformed_json');
  assertPlainError(await raw('POST', '/api/v1/codes', "{code: 'A'}", 'application/json'), 400, 'malformed_json');
  assertPlainError(await raw('PUT', '/api/v1/settings', 'nope', 'application/json'), 400, 'malformed_json');
});

test('an empty JSON body is 400 malformed_json', async () => {
  assertPlainError(await raw('POST', '/api/v1/codes', '', 'application/json'), 400, 'malformed_json');
});

test('an empty JSON body is still 400 malformed_json on every route that needs a body', async () => {
  assertPlainError(await raw('PUT', '/api/v1/settings', '', 'application/json'), 400, 'malformed_json');
  assertPlainError(await raw('PATCH', '/api/v1/users/admin', '', 'application/json'), 400, 'malformed_json');
  assertPlainError(await raw('POST', '/api/v1/users', '', 'application/json; charset=utf-8'), 400, 'malformed_json');
});

// Many HTTP clients send Content-Type: application/json on every request.
test('an empty body with Content-Type: application/json is no body on each route that takes none', async () => {
  const { id } = await t.publish('EMPTY-BODY');
  const user = await t.createUser('empty-body');
  const stream = await SseReader.open(t.url, { token: user.token });
  try {
    await stream.waitForEvent('hello');
    const routes: [method: string, path: string, token: string, status: number][] = [
      ['POST', `/api/v1/codes/${id}/ack`, user.token, 200],
      ['POST', `/api/v1/stream/${stream.connectionId}/pong`, user.token, 204],
      ['POST', `/api/v1/users/empty-body/tokens`, ADMIN_TOKEN, 201],
      ['DELETE', `/api/v1/tokens/${user.tokenId}`, ADMIN_TOKEN, 200],
      ['DELETE', `/api/v1/codes/${id}`, ADMIN_TOKEN, 200],
    ];
    // A body that is there and is not JSON is refused on each, and changes nothing.
    for (const [method, path, token] of routes) {
      const res = await t.api(method, path, { token, body: '{"id":', headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, `${method} ${path}`);
      assert.equal(res.body.error, 'malformed_json', `${method} ${path}`);
    }
    for (const [method, path, token, status] of routes) {
      const res = await t.api(method, path, { token, body: '', headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
    // A content type with parameters is the same content type.
    const again = await t.api('POST', `/api/v1/codes/${id}/ack`, {
      body: '',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    assert.equal(again.status, 409, 'the revoked code is refused, not the empty body');
    assert.equal(again.body.error, 'code_revoked');
  } finally {
    stream.close();
  }
});

test('a JSON body that is not an object is 400 invalid_request', async () => {
  for (const body of ['[]', '["A"]', '"A"', '42', 'null', 'true']) {
    const res = await raw('POST', '/api/v1/codes', body, 'application/json');
    assertPlainError(res, 400, 'invalid_request');
  }
  assertPlainError(await raw('PUT', '/api/v1/settings', '[true]', 'application/json'), 400, 'invalid_request');
  assertPlainError(await raw('POST', '/api/v1/users', '"bob"', 'application/json'), 400, 'invalid_request');
});

test('a body over CODECAST_BODY_LIMIT_BYTES is 413 payload_too_large', async () => {
  const big = JSON.stringify({ code: 'BIG', message: 'x'.repeat(10 * 1024) });
  assert.ok(big.length > 10 * 1024);
  assertPlainError(await raw('POST', '/api/v1/codes', big, 'application/json'), 413, 'payload_too_large');
  // Nothing was published by it.
  const list = await t.api('GET', '/api/v1/codes?all=true');
  assert.equal(list.status, 200);
  assert.ok(!list.body.codes.some((c: { code: string }) => c.code === 'BIG'));
});

test('a body just under the limit is accepted', async () => {
  const body = { code: 'NEAR-LIMIT', message: 'y'.repeat(900) };
  assert.ok(JSON.stringify(body).length < 2048);
  const res = await t.api('POST', '/api/v1/codes', { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
});

test('a body that is not JSON is 415 unsupported_media_type', async () => {
  assertPlainError(await raw('POST', '/api/v1/codes', 'code=A', 'text/plain'), 415, 'unsupported_media_type');
  assertPlainError(await raw('POST', '/api/v1/codes', 'code=A', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
  assertPlainError(await raw('PUT', '/api/v1/settings', '{}', 'text/plain; charset=utf-8'), 415, 'unsupported_media_type');
});

test('an unknown route is 404 not_found, with or without a token', async () => {
  assertPlainError(await t.api('GET', '/api/v1/nothing-here'), 404, 'not_found');
  assertPlainError(await t.api('POST', '/api/v1/nothing-here', { body: {} }), 404, 'not_found');
  assertPlainError(await t.api('GET', '/api/v2/codes', { token: null }), 404, 'not_found');
  // A known path with a method it does not serve is not found either.
  assertPlainError(await t.api('PATCH', '/api/v1/codes'), 404, 'not_found');
});

test('the error shape holds for auth errors and catalog errors too', async () => {
  const missing = await t.api('GET', '/api/v1/codes', { token: null });
  assertPlainError(missing, 401, 'unauthorized');
  const notFound = await t.api('GET', '/api/v1/codes/999999');
  assertPlainError(notFound, 404, 'code_not_found');
  const badParam = await t.api('GET', '/api/v1/codes/abc');
  assertPlainError(badParam, 400, 'invalid_request');
  const noUser = await t.api('GET', '/api/v1/users/nobody-here');
  assertPlainError(noUser, 404, 'user_not_found');
});

test('the server keeps serving after all those errors', async () => {
  // A burst of bad requests in parallel, then ordinary work.
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? raw('POST', '/api/v1/codes', '{bad', 'application/json')
        : raw('POST', '/api/v1/codes', 'z'.repeat(5000), 'application/json'),
    ),
  );
  const health = await t.api('GET', '/healthz', { token: null });
  assert.equal(health.status, 200);
  assert.deepEqual(health.body, { status: 'ok' });
  const { id } = await t.publish('STILL-SERVING');
  const one = await t.api('GET', `/api/v1/codes/${id}`);
  assert.equal(one.status, 200);
  assert.equal(one.body.code.code, 'STILL-SERVING');
});

test('every catalog error code appears in README.md', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const codes = Object.keys(errorCatalog);
  assert.ok(codes.length > 10);
  const missing = codes.filter((code) => !readme.includes(`\`${code}\``));
  assert.deepEqual(missing, [], `README.md does not mention: ${missing.join(', ')}`);
});
