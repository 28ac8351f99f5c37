// /readyz's check of the store: answered within its deadline whatever the
// database does, one check at a time however many probes come, and each
// change of the answer reported once (the log says why).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadinessCheck } from '../src/http/readiness.js';
import type { StoreHealth } from '../src/store/index.js';

const READY: StoreHealth = { ok: true };
const GONE: StoreHealth = { ok: false, database: 'gone', message: 'The file is gone.' };

test('a check that has not answered by the deadline answers unreachable; probes meanwhile share it', async () => {
  let checks = 0;
  let answer!: (health: StoreHealth) => void;
  const readiness = new ReadinessCheck(() => {
    checks++;
    return new Promise<StoreHealth>((resolve) => (answer = resolve));
  }, 100);
  const startedAt = Date.now();
  const answers = await Promise.all([readiness.health(), readiness.health(), readiness.health()]);
  const tookMs = Date.now() - startedAt;
  for (const health of answers) {
    assert.equal(health.ok, false);
    assert.equal(!health.ok && health.database, 'unreachable');
  }
  assert.ok(tookMs >= 90 && tookMs < 1_000, `answered after ${tookMs} ms`);
  const meanwhile = readiness.health();
  assert.equal(checks, 1, 'a probe while the first check runs starts none of its own');
  answer(READY);
  assert.deepEqual(await meanwhile, READY, 'a check that ends in time answers');
  const later = readiness.health();
  assert.equal(checks, 2, 'the next probe after a check ended starts a new one');
  answer(GONE);
  assert.deepEqual(await later, GONE);
});

test('each change of the answer is reported once; a first answer only when it is bad', async () => {
  let next: StoreHealth = READY;
  const heard: StoreHealth[] = [];
  const readiness = new ReadinessCheck(
    async () => next,
    1_000,
    (health) => void heard.push(health),
  );
  await readiness.health();
  assert.deepEqual(heard, [], 'ready from the start is no news');
  next = GONE;
  await readiness.health();
  await readiness.health();
  next = READY;
  await readiness.health();
  assert.deepEqual(heard, [GONE, READY]);
});
