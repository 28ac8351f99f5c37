// The replaced service's Python listener, run with the real python-socketio
// (Debian's python3-socketio 5) as docs/MIGRATING.md tells its owners to
// change it — namespace /events, the token in `auth` — against codecast,
// over WebSocket and over long-polling; and with a wrong token, refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pythonSocketioForTests } from './support/python-socketio.js';
import { startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

const LISTENER = fileURLToPath(new URL('./fixtures/python_socketio_listener.py', import.meta.url));
const found = pythonSocketioForTests();

interface Heard {
  readonly event: string;
  readonly data: any;
}

/** Runs the listener; its JSON lines as they come, and how it ended. */
function runListener(
  python: string,
  args: string[],
): { heard: Heard[]; ended: Promise<{ code: number | null; ms: number }>; stderr: () => string } {
  const heard: Heard[] = [];
  let stderr = '';
  let buffered = '';
  const started = performance.now();
  const child = spawn(python, [LISTENER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') heard.push(JSON.parse(line) as Heard);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const ended = new Promise<{ code: number | null; ms: number }>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: performance.now() - started });
    }),
  );
  return { heard, ended, stderr: () => stderr };
}

describe("the replaced service's Python listener (python-socketio), with a token", { skip: found.skip }, () => {
  const python = found.python as string;
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_AUTH_TIMEOUT_SECONDS: '30' });
  });
  after(async () => t?.stop());

  for (const transport of ['websocket', 'polling'] as const) {
    test(`over ${transport}: connected, subscribed, then every new_code in order`, async () => {
      const { token } = await t.createUser(`py-${transport}`);
      const listener = runListener(python, [t.url, token, '3', transport]);
      await waitFor(() => listener.heard.some((h) => h.event === 'subscribed'), 'subscribed', 15_000);
      const ids: number[] = [];
      for (const code of ['A', 'B', 'C']) ids.push((await t.publish(`PY-${transport}-${code}`)).id);
      const { code } = await listener.ended;
      assert.equal(code, 0, listener.stderr());
      assert.deepEqual(
        listener.heard.map((h) => h.event),
        ['connected', 'subscribed', 'new_code', 'new_code', 'new_code', 'done'],
      );
      assert.equal(listener.heard[0]?.data.message, 'Connected to events endpoint');
      const codes = listener.heard.filter((h) => h.event === 'new_code').map((h) => h.data);
      assert.deepEqual(
        codes.map((c) => c.id),
        ids,
      );
      assert.equal(codes[0].code, `PY-${transport}-A`);
      assert.equal(typeof codes[0].publishedAt, 'string');
    });
  }

  // python-socketio 5.7 gives up on a refused namespace after its own
  // wait_timeout (1 s) whether or not the server closes the connection; the
  // closing itself is test/socketio-refusals.test.ts's.
  test('a wrong token is refused: connect() raises, and the listener ends', async () => {
    const listener = runListener(python, [t.url, 'cc_wrong000000000000000000000000000000000', '1']);
    const { code, ms } = await listener.ended;
    assert.equal(code, 3, listener.stderr());
    const failed = listener.heard.find((h) => h.event === 'connect_failed');
    assert.ok(failed, `connect failed: ${JSON.stringify(listener.heard)}`);
    assert.ok(ms < 10_000, `refused within seconds (took ${Math.round(ms)} ms)`);
  });
});
