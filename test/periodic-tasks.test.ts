// The scheduler of periodic tasks: a run still going is not started again
// (each stuck run of a database task holds a pooled connection), a failure
// is reported and the task runs at its next period, and stop stops them all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeriodicTasks } from '../src/periodic-tasks.js';

const waitMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a task whose last run is still going is skipped, and runs again once it ends', async () => {
  const tasks = new PeriodicTasks((error) => assert.fail(String(error)));
  let started = 0;
  let finish!: () => void;
  tasks.every(10, () => {
    started++;
    return new Promise<void>((resolve) => (finish = resolve));
  });
  try {
    await waitMs(120);
    assert.equal(started, 1, 'one run at a time, however many periods pass');
    finish();
    await waitMs(60);
    assert.ok(started >= 2, `runs again once the stuck run ended (started ${started})`);
  } finally {
    finish();
    tasks.stop();
  }
});

test('a failed run is reported and the task runs again at its next period; stop ends it', async () => {
  const errors: unknown[] = [];
  const tasks = new PeriodicTasks((error) => errors.push(error));
  let runs = 0;
  tasks.every(10, async () => {
    runs++;
    throw new Error(`run ${runs}`);
  });
  await waitMs(80);
  tasks.stop();
  const stoppedAt = runs;
  assert.ok(stoppedAt >= 2, `ran again after failing (${stoppedAt} runs)`);
  assert.equal(errors.length, stoppedAt);
  await waitMs(40);
  assert.equal(runs, stoppedAt, 'nothing runs after stop');
});

test('a first run may come sooner than the period; a run in progress hears stop through its signal', async () => {
  const tasks = new PeriodicTasks((error) => assert.fail(String(error)));
  const runs: number[] = [];
  let signal: AbortSignal | undefined;
  const started = Date.now();
  tasks.every(
    60_000,
    (given) => {
      runs.push(Date.now() - started);
      signal = given;
      return new Promise<void>((resolve) => given.addEventListener('abort', () => resolve()));
    },
    10,
  );
  await waitMs(80);
  assert.equal(runs.length, 1, 'the first run came after firstMs, not after the period');
  assert.equal(signal?.aborted, false);
  tasks.stop();
  assert.equal(signal?.aborted, true, 'stop tells the run in progress');
});
