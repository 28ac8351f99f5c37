// Storage faults caused for real, under a running server: a full disk (a
// 2 MB tmpfs filled by a filler file), a file system the kernel turns
// read-only (ext4 with errors=remount-ro after an error), and the database
// file deleted or moved away. Every write path must answer
// 503 database_unavailable with Retry-After, /readyz must fail, streams must
// stay up, nothing refused may be half-stored, and where the fault can pass
// by itself (space freed, file moved back) writes and /readyz recover with
// no restart. Needs root for mount; without it every test here says why it
// skips.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { connectSubscriber, TRANSPORT_KINDS, type Subscriber } from './support/clients.js';
import { capturingLogger, ext4SkipReason, fillDisk, mountExt4, mountSkipReason, mountTmpfs } from './support/disk-faults.js';
import { eventually } from './support/raw-clients.js';
import { startTestServer, type ApiResponse, type TestServer } from './support/server.js';
import { SseReader } from './support/sse.js';
import { prepareWriteTargets, writePaths, type WritePath } from './support/write-paths.js';

function assertUnavailable(res: ApiResponse, what: string, message?: RegExp): void {
  assert.equal(res.status, 503, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error, 'database_unavailable', `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body?.message, 'string', what);
  assert.ok(Number(res.headers.get('retry-after')) > 0, `${what}: Retry-After`);
  if (message) assert.match(res.body.message, message, what);
}

async function assertAllRefused(paths: readonly WritePath[], message?: RegExp): Promise<void> {
  for (const path of paths) assertUnavailable(await path.send(), path.name, message);
}

/** The same requests as during the fault, now each answering as a first request would. */
async function assertAllAccepted(paths: readonly WritePath[]): Promise<void> {
  for (const path of paths) {
    const res = await path.send();
    assert.equal(res.status, path.okStatus, `${path.name} after recovery: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

async function assertNotReady(t: TestServer, database: string): Promise<void> {
  const ready = await t.api('GET', '/readyz', { token: null });
  assertUnavailable(ready, '/readyz');
  assert.equal(ready.body.status, 'unready');
  assert.equal(ready.body.database, database);
}

async function readyAgain(t: TestServer): Promise<void> {
  await eventually(async () => (await t.api('GET', '/readyz', { token: null })).status === 200, '/readyz to answer 200 again', 10_000);
}

/** One subscriber per transport, as a user the server has cached. */
async function subscribeAll(t: TestServer, tag: string): Promise<Subscriber[]> {
  const { token } = await t.createUser(`listener-${tag}`);
  const subscribers = await Promise.all(TRANSPORT_KINDS.map((kind) => connectSubscriber(kind, t.url, { token, since: 0 })));
  for (const s of subscribers) assert.equal(s.status, 'open', `${s.transport} opened`);
  return subscribers;
}

function assertStillOpen(subscribers: readonly Subscriber[]): void {
  for (const s of subscribers) assert.equal(s.status, 'open', `${s.transport} stream stayed up`);
}

/** Every subscriber holds exactly the stored, announced codes: nothing refused was announced. */
async function assertHeldEqualsStored(t: TestServer, subscribers: readonly Subscriber[]): Promise<void> {
  const stored = (await t.api('GET', '/api/v1/codes?all=true&limit=1000')).body.codes.map((c: { id: number }) => c.id);
  for (const s of subscribers) {
    await s.waitForCodes(stored.length);
    assert.deepEqual(s.codeIds, stored, `${s.transport} holds exactly the stored codes`);
  }
}

async function closeAll(subscribers: readonly Subscriber[]): Promise<void> {
  await Promise.all(subscribers.map((s) => s.close().catch(() => undefined)));
}

describe('a full disk', { skip: mountSkipReason() }, () => {
  test('every write path answers 503 with Retry-After, /readyz fails, streams stay up, and all recovers when space returns', async () => {
    const disk = mountTmpfs(2 * 1024 * 1024);
    let t: TestServer | undefined;
    let subscribers: Subscriber[] = [];
    try {
      t = await startTestServer({}, { dir: disk.dir });
      const targets = await prepareWriteTargets(t, 'full');
      const paths = writePaths(t, targets, 'full');
      subscribers = await subscribeAll(t, 'full');

      const filler = fillDisk(disk.dir);
      // The WAL may still have room in a page it holds; the first publish
      // that needs a new page meets the full disk. Whatever got 201 is stored.
      let refused: ApiResponse | undefined;
      for (let attempt = 0; attempt < 20 && !refused; attempt++) {
        const res = await t.api('POST', '/api/v1/codes', { body: { code: `SQUEEZE-${attempt}` } });
        if (res.status === 201) continue;
        refused = res;
      }
      assert.ok(refused, 'a publish on the full disk was refused');
      assertUnavailable(refused, 'publish on a full disk');

      await assertAllRefused(paths);
      await assertNotReady(t, 'unwritable');
      // Refused changes changed nothing, not even in memory.
      assert.equal((await t.api('GET', '/api/v1/settings')).body.defaultValue, null);
      // Reads, streams and new subscribers carry on.
      assert.equal((await t.api('GET', '/api/v1/codes')).status, 200);
      assertStillOpen(subscribers);
      const late = await connectSubscriber('sse', t.url, { token: t.adminToken, since: 0 });
      assert.equal(late.status, 'open', 'a new subscriber connects while the disk is full');
      subscribers.push(late);

      unlinkSync(filler);
      await readyAgain(t);
      const probes = new Database(t.databasePath, { readonly: true });
      try {
        const row = probes.prepare('select count(*) as n from write_probe').get() as { n: number };
        assert.equal(row.n, 1, 'readiness came back through the probe write, with no request writing');
      } finally {
        probes.close();
      }
      await assertAllAccepted(paths);
      assert.equal((await t.api('GET', '/api/v1/settings')).body.defaultValue, 7);
      await t.publish('AFTER-FULL');
      assertStillOpen(subscribers);
      await assertHeldEqualsStored(t, subscribers);

      // Stored means stored: a restart on the same files holds exactly what
      // was announced, the codes that squeezed in before the refusals too.
      const announced = (subscribers[0] as Subscriber).codeIds;
      await closeAll(subscribers);
      subscribers = [];
      await t.stop();
      t = await startTestServer({}, { dir: disk.dir });
      const stored = (await t.api('GET', '/api/v1/codes?all=true&limit=1000')).body.codes.map((c: { id: number }) => c.id);
      assert.deepEqual(stored, announced, 'after a restart the database holds exactly the announced codes');
    } finally {
      await closeAll(subscribers);
      await t?.stop().catch(() => undefined);
      disk.cleanup();
    }
  });
});

describe('a file system turned read-only', { skip: ext4SkipReason() }, () => {
  test('every write path answers 503 with Retry-After, /readyz fails, and streams stay up', async (ctx) => {
    const disk = mountExt4(32 * 1024 * 1024);
    let t: TestServer | undefined;
    let subscribers: Subscriber[] = [];
    try {
      if (disk.cannotFail) {
        ctx.skip(disk.cannotFail);
        return;
      }
      t = await startTestServer({}, { dir: disk.dir });
      const targets = await prepareWriteTargets(t, 'ro');
      const paths = writePaths(t, targets, 'ro');
      subscribers = await subscribeAll(t, 'ro');
      const before = (await t.api('GET', '/api/v1/codes?all=true')).body.codes.length;

      // What the kernel does on a disk error under errors=remount-ro: from
      // here every write to the file system fails (EROFS), open files too.
      disk.failReadOnly();

      await assertAllRefused(paths);
      await assertNotReady(t, 'unwritable');
      // Still unready on a second look: the retried write fails too.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await assertNotReady(t, 'unwritable');
      assert.equal((await t.api('GET', '/api/v1/codes?all=true')).body.codes.length, before, 'nothing refused is stored');
      assertStillOpen(subscribers);
      await assertHeldEqualsStored(t, subscribers);
    } finally {
      await closeAll(subscribers);
      await t?.stop().catch(() => undefined);
      disk.cleanup();
    }
  });
});

describe('the database file gone from under a running server', () => {
  const faults = [
    {
      name: 'its data directory deleted',
      cause: (dir: string) => rmSync(dir, { recursive: true, force: true }),
      logged: /no longer at its path/,
      mend: undefined,
    },
    {
      name: 'its file replaced by a copy',
      cause: (dir: string) => {
        copyFileSync(join(dir, 'codecast.db'), join(dir, 'copy.db'));
        renameSync(join(dir, 'copy.db'), join(dir, 'codecast.db'));
      },
      logged: /was replaced/,
      mend: undefined,
    },
    {
      name: 'its file moved aside (and back)',
      cause: (dir: string) => renameSync(join(dir, 'codecast.db'), join(dir, 'aside.db')),
      logged: /no longer at its path/,
      mend: (dir: string) => renameSync(join(dir, 'aside.db'), join(dir, 'codecast.db')),
    },
  ];
  for (const fault of faults) {
    test(`${fault.name}: /readyz fails, writes are refused with 503, the log says so once`, async () => {
      const base = mkdtempSync(join(tmpdir(), 'codecast-gone-'));
      const dir = join(base, 'data');
      const logs: Record<string, unknown>[] = [];
      let t: TestServer | undefined;
      let subscribers: Subscriber[] = [];
      try {
        t = await startTestServer({}, { dir, logger: capturingLogger(logs) });
        const targets = await prepareWriteTargets(t, 'gone');
        const paths = writePaths(t, targets, 'gone');
        subscribers = await subscribeAll(t, 'gone');

        fault.cause(dir);

        // At once, before any periodic check or /readyz has looked: the
        // store looks at the file before every commit.
        await assertAllRefused(paths, /database file is gone/);
        await assertNotReady(t, 'gone');
        assertStillOpen(subscribers);
        await assertHeldEqualsStored(t, subscribers);

        const lines = logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('database file'));
        assert.equal(lines.length, 1, `one log line about the file: ${JSON.stringify(lines)}`);
        const line = lines[0] as { level: number; msg: string };
        assert.equal(line.level, 50, 'logged as an error');
        assert.match(line.msg, fault.logged);
        assert.match(line.msg, /writes answer 503/);
        assert.match(line.msg, /restart/);

        if (fault.mend) {
          fault.mend(dir);
          await readyAgain(t);
          await assertAllAccepted(paths);
          await assertHeldEqualsStored(t, subscribers);
        }
      } finally {
        await closeAll(subscribers);
        await t?.stop().catch(() => undefined);
        rmSync(base, { recursive: true, force: true });
      }
    });
  }
});

/** A subscriber as the reset test sees it, whichever way it says its last id. */
interface Resuming {
  resets(): { data: any }[];
  codeIds(): number[];
  close(): Promise<void>;
}

async function resume(way: 'sse' | 'ws' | 'socketio' | 'sse-last-event-id', t: TestServer, since: number): Promise<Resuming> {
  if (way === 'sse-last-event-id') {
    const reader = await SseReader.open(t.url, { token: t.adminToken, lastEventId: since });
    await reader.waitForEvent('hello');
    return { resets: () => reader.of('reset'), codeIds: () => reader.codeIds(), close: async () => reader.close() };
  }
  const s = await connectSubscriber(way, t.url, { token: t.adminToken, since });
  assert.equal(s.status, 'open', `${way} opened`);
  return { resets: () => s.of('reset'), codeIds: () => s.codeIds, close: () => s.close() };
}

describe('a client that presents a last id beyond every id the server has', () => {
  // As after a restart on an empty database: the client saw ids this server
  // never issued. It must be told `reset`, never left waiting in silence.
  const ways = [
    { way: 'sse', says: 'SSE ?since=' },
    { way: 'sse-last-event-id', says: 'SSE Last-Event-ID' },
    { way: 'ws', says: 'WebSocket ?since=' },
    { way: 'socketio', says: 'Socket.IO auth.since' },
  ] as const;
  for (const held of [0, 2]) {
    for (const { way, says } of ways) {
      test(`${says}, the server holding ${held} code(s): told reset, then served live`, async () => {
        const t = await startTestServer();
        let client: Resuming | undefined;
        try {
          for (let i = 0; i < held; i++) await t.publish(`HELD-${i}`);
          client = await resume(way, t, held + 5);
          const c = client;
          // hello and reset go out in one synchronous step; a reset that has
          // not come with the hello's batch shortly after will not come.
          await eventually(async () => c.resets().length > 0, 'a reset', 5000);
          assert.equal(c.resets().length, 1, 'told reset exactly once');
          assert.equal(c.resets()[0]?.data.lastId, held, 'the reset names the newest id the server has');
          assert.deepEqual(c.codeIds(), [], 'nothing replayed: every id held is older than the client claims');
          const { id } = await t.publish('AFTER-RESET');
          await eventually(async () => c.codeIds().includes(id), 'the next code, live', 5000);
          assert.deepEqual(c.codeIds(), [id]);
        } finally {
          await client?.close();
          await t.stop();
        }
      });
    }
  }
});

test('a healthy /readyz costs no write: the store probes writes only while they fail', async () => {
  const t = await startTestServer();
  try {
    for (let i = 0; i < 20; i++) assert.equal((await t.api('GET', '/readyz', { token: null })).status, 200);
    await t.publish('HEALTHY');
    const db = new Database(t.databasePath, { readonly: true });
    try {
      const row = db.prepare('select count(*) as n from write_probe').get() as { n: number };
      assert.equal(row.n, 0, 'no probe write while healthy');
    } finally {
      db.close();
    }
  } finally {
    await t.stop();
  }
});
