// Inputs that once could crash the process or leak a token: each must leave
// the server serving.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { redactUrl } from '../src/edge/index.js';
import { startTestServer, type TestServer } from './support/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.stop();
});

function rawUpgrade(path: string): Promise<Socket> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

const healthy = async () => (await fetch(`${t.url}/healthz`)).status === 200;

test('a refused WebSocket that then sends a malformed frame does not crash the server', async () => {
  const socket = await rawUpgrade('/api/v1/ws?token=not-a-real-token-at-all');
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.on('error', () => undefined);
  // An unmasked client frame is a protocol error (RFC 6455 §5.1).
  socket.write(Buffer.from([0x81, 0x01, 0x78]));
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.destroy();
  assert.ok(await healthy());
});

test('upgrades to an unknown path reset by the client do not crash the server', async () => {
  for (let i = 0; i < 50; i++) {
    const socket = await rawUpgrade('/nowhere');
    socket.on('error', () => undefined);
    socket.resetAndDestroy();
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(await healthy());
});

test('a WebSocket client that keeps sending invalid frames is closed with 1003', async () => {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/v1/ws?token=${t.adminToken}`);
  const errors: unknown[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === 'error') errors.push(frame);
  });
  await new Promise((resolve) => ws.once('open', resolve));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  for (let i = 0; i < 80; i++) ws.send('not json');
  assert.deepEqual(await closed, { code: 1003, reason: 'protocol_error' });
  assert.ok(errors.length >= 10 && errors.length <= 51, `answered ${errors.length} invalid frames before closing`);
  assert.ok(await healthy());
});

test('a token parameter is redacted from logged URLs however it is spelled', () => {
  assert.equal(redactUrl('/api/v1/stream?token=abc&since=3'), '/api/v1/stream?token=[redacted]&since=3');
  assert.equal(redactUrl('/api/v1/stream?%74oken=abc'), '/api/v1/stream?token=[redacted]');
  assert.equal(redactUrl('/x?since=1'), '/x?since=1');
});
