import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';
import { SseReader } from './support/sse.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.stop();
});

test('a published code reaches an SSE subscriber', async () => {
  const reader = await SseReader.open(t.url, { token: t.adminToken });
  await reader.waitForEvent('hello');
  const { id } = await t.publish('SMOKE-1');
  await reader.waitForEvent('code');
  assert.deepEqual(reader.codeIds(), [id]);
  reader.close();
});
