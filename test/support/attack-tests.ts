// Small runs of the bench's attack mode (issue 9): codecast built in dist/
// as a separate process, subscribers of all three transports receiving codes
// while one hostile client (bench/attacker.ts) floods acks or holds sessions
// that never authenticate. They assert that the harness measures what it says
// — every phase has its codes and /healthz probes, the attacker reports what
// it did and what was done to it, no delivery is lost — and nothing about
// speed or whether the attacker was cut off: the figures are the bench's to
// print, and the defences have tests of their own.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runAttack } from '../../bench/attack.js';
import type { Attack } from '../../bench/attacker.js';
import { REPO, startCodecast } from '../../bench/targets.js';

const SUBSCRIBERS = 60;
const PER_USER = 30;

/** One small attack-mode test per variant; split across files so that npm test runs them two at a time. */
export function attackTests(attacks: readonly Attack[]): void {
  for (const attack of attacks) {
    test(`${attack}: the attacker reports, every phase is measured, no delivery is lost`, { timeout: 120_000 }, async () => {
      assert.ok(existsSync(join(REPO, 'dist', 'cli', 'main.js')), 'dist/ is missing: build first (npm test does)');
      const target = await startCodecast({ maxConnections: SUBSCRIBERS + 50, perUser: PER_USER });
      const log: string[] = [];
      try {
        const result = await runAttack(
          target,
          {
            transport: 'mixed',
            subscribers: SUBSCRIBERS,
            perProcess: SUBSCRIBERS,
            concurrency: 32,
            attack,
            rate: 20,
            baselineSeconds: 1,
            attackSeconds: 3,
            afterSeconds: 1,
            warmupSeconds: 0,
            perUser: PER_USER,
            maxHeld: 200,
            attackConcurrency: 20,
            drainMs: 2000,
          },
          (line) => log.push(line),
        );
        const context = `\n${log.join('\n')}`;
        const { sustained, attacker } = result;
        assert.equal(sustained.connect.connected, SUBSCRIBERS, context);
        assert.equal(sustained.lost, 0, `deliveries lost${context}`);
        assert.equal(sustained.publishErrors, 0, context);
        assert.deepEqual(
          sustained.phases?.map((p) => p.name),
          ['before', 'attack', 'after'],
          context,
        );
        for (const phase of sustained.phases ?? []) assert.ok(phase.codes > 0, `no codes in ${phase.name}${context}`);
        assert.ok(result.healthz.find((h) => h.phase === 'before')?.probes, `/healthz probed before the attack${context}`);

        assert.ok(attacker, `the attacker reported${context}`);
        assert.equal(attacker.attack, attack);
        assert.ok(attacker.established > 0, `the attack got going: ${JSON.stringify(attacker)}${context}`);
        assert.ok(attacker.sent > 0, context);
        if (attack !== 'ack-ws' && attack !== 'ack-socketio') {
          assert.ok(attacker.peakHeld > 0, context);
          assert.ok((result.fds.peak ?? 0) > (result.fds.before ?? 0), `the held sessions showed in the server's open files${context}`);
        }
        // Cut off or not, the report is consistent with itself.
        const cuts = Object.values(attacker.cut).reduce((n, v) => n + v, 0);
        assert.equal(attacker.firstCutMs === null, cuts === 0, context);
        assert.ok(result.rssKb.before !== null && result.rssKb.peak !== null, context);
      } finally {
        await target.stop();
      }
    });
  }
}
