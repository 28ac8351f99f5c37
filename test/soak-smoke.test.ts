// The bench's soak mode (issue 9) for two minutes: codecast built in dist/
// as a separate process, 1,000 subscribers across SSE, WebSocket and
// Socket.IO in two client processes, 10 codes/s, a tenth of them cut and
// resumed with their last id every 20 s. It asserts behaviour, not speed:
// every subscriber ends holding every code exactly once, in order; the
// server's open files return to what they were before the clients came;
// and memory does not run away.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSoak } from '../bench/soak.js';
import { REPO, startCodecast } from '../bench/targets.js';

const SUBSCRIBERS = 1000;
const PERIOD_SECONDS = 20;
const MINUTES = 2;

test('soak: 1,000 subscribers resuming by id under churn for two minutes lose nothing, repeat nothing and leave no open files', {
  timeout: 360_000,
}, async () => {
  assert.ok(existsSync(join(REPO, 'dist', 'cli', 'main.js')), 'dist/ is missing: build first (npm test does)');
  // Room for subscribers coming back before the server has seen them go.
  const target = await startCodecast({
    maxConnections: SUBSCRIBERS + 300,
    perUser: 100,
    env: { CODECAST_MAX_CONNECTIONS_PER_USER: '200' },
  });
  const log: string[] = [];
  try {
    const result = await runSoak(
      target,
      {
        transport: 'mixed',
        subscribers: SUBSCRIBERS,
        perProcess: SUBSCRIBERS / 2,
        concurrency: 32,
        rate: 10,
        minutes: MINUTES,
        periodSeconds: PERIOD_SECONDS,
        reconnectFraction: 0.1,
        warmupPeriods: 1,
        pauseMs: 300,
        drainMs: 30_000,
        fdSettleMs: 30_000,
      },
      (line) => log.push(line),
    );
    const context = `\n${log.join('\n')}`;
    const { final, verdict } = result;
    assert.equal(result.connect.connected, SUBSCRIBERS, context);
    assert.equal(result.connect.failed, 0, context);
    assert.equal(result.publishErrors, 0, context);
    assert.equal(result.periods.length, (MINUTES * 60) / PERIOD_SECONDS, context);

    // The churn happened, and every subscriber cut came back.
    const cutsPerPeriod = SUBSCRIBERS * 0.1;
    assert.ok(final.churned >= cutsPerPeriod * (result.periods.length - 1), `cuts made: ${final.churned}${context}`);
    const serverCloses = Object.values(final.closes).reduce((n, v) => n + v, 0);
    assert.equal(final.reconnects, final.churned + serverCloses, `every cut subscriber resumed${context}`);
    assert.equal(final.reopening, 0, context);
    assert.equal(final.open, SUBSCRIBERS, context);

    // Every id exactly once, in order, up to the last one published.
    assert.equal(final.lost, 0, `ids skipped${context}`);
    assert.equal(final.duplicated, 0, `ids repeated${context}`);
    assert.equal(final.resets, 0, context);
    assert.equal(final.behind, 0, `ids never reached${context}`);
    assert.ok(result.lastId !== null && result.lastId >= result.published, context);
    assert.equal(verdict.nothingLost, true, context);

    // Open files back to the baseline once the clients left.
    assert.equal(verdict.fdsBack, true, `open files: baseline ${result.baseline.fds}, after ${result.after.fds}${context}`);
    assert.ok((result.connected.fds ?? 0) >= (result.baseline.fds ?? 0) + SUBSCRIBERS, `the server held a file per connection${context}`);

    // Memory bounded, generously: a leak of a few KB per code or per reconnection would pass 50 %.
    const { firstKb, lastKb } = verdict.rss;
    assert.ok(firstKb !== null && lastKb !== null, context);
    assert.ok(lastKb <= firstKb * 1.5, `RSS grew from ${firstKb} to ${lastKb} KB${context}`);
  } finally {
    await target.stop();
  }
});
