/**
 * `408 request_timeout` (issue 9): a request whose body never completes is
 * answered in the catalog's shape and its connection closed, once
 * `CODECAST_REQUEST_TIMEOUT_SECONDS` has passed. Without a request timeout
 * (Fastify turns Node's off) it would hold its connection for ever.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ CODECAST_REQUEST_TIMEOUT_SECONDS: '1' });
});
after(async () => {
  await t?.stop();
});

test('a publish whose body never completes is answered 408 request_timeout, and nothing is published', async () => {
  const socket = connect({ host: '127.0.0.1', port: t.server.port });
  let answer = '';
  socket.on('data', (chunk) => {
    answer += chunk.toString();
  });
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  await new Promise((resolve) => socket.once('connect', resolve));
  const started = Date.now();
  // An authenticated request (the socket no longer counts as pending, so the
  // auth timeout does not apply) that promises 100 bytes and sends 10.
  socket.write(
    `POST /api/v1/codes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"code": "',
  );
  const gone = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 6000))]);
  socket.destroy();
  assert.ok(gone > 0, 'the connection was closed within 6 s');
  const tookMs = gone - started;
  // The timeout is 1 s, looked for every second.
  assert.ok(tookMs >= 1000 && tookMs < 3000, `answered after ${tookMs} ms`);
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 408 /);
  assert.match(head, /^content-type: application\/json/im);
  const parsed = JSON.parse(body) as { error: string; message: string };
  assert.equal(parsed.error, 'request_timeout');
  assert.equal(typeof parsed.message, 'string');
  const codes = await t.api('GET', '/api/v1/codes');
  assert.equal(codes.status, 200);
  assert.deepEqual(codes.body.codes, [], 'nothing was published');
});

test('a stream outlives the request timeout: its request was complete when it started', async () => {
  const controller = new AbortController();
  const stream = await fetch(`${t.url}/api/v1/stream`, {
    headers: { authorization: `Bearer ${t.adminToken}` },
    signal: controller.signal,
  });
  assert.equal(stream.status, 200);
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
  await reader.read(); // the stream's first bytes
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const { id } = await t.publish('AFTER-THE-TIMEOUT');
  let text = '';
  while (!text.includes(`id: ${id}\n`)) {
    const { value, done } = await reader.read();
    assert.ok(!done, 'the stream is still open');
    text += new TextDecoder().decode(value);
  }
  controller.abort();
});
