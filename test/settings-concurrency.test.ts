/**
 * Concurrent `PUT /api/v1/settings` (issue 9): each update must start from
 * the settings the one before it left, so that memory, the database and the
 * audit trail tell the same story however many admins write at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { STORE_KINDS, startTestServer, type TestServer } from './support/server.js';

const UPDATES = 40;

interface SettingsValues {
  dedupCaseInsensitive: boolean;
  defaultValue: number | null;
}

interface SettingsAudit {
  id: number;
  action: string;
  details: { before: SettingsValues; after: SettingsValues };
}

for (const store of STORE_KINDS) {
  describe(`concurrent settings updates on ${store}`, () => {
    let t: TestServer;

    before(async () => {
      t = await startTestServer({}, { store });
    });
    after(async () => {
      await t?.stop();
    });

    test('many PUTs of different keys at once: memory, database and audit agree', async () => {
      const initial = (await t.api('GET', '/api/v1/settings')).body as SettingsValues;
      // Alternate the two keys, each PUT with a value no other PUT writes, so
      // a lost update shows as a value that memory or the audit does not hold.
      const bodies = Array.from({ length: UPDATES }, (_, i) => (i % 2 === 0 ? { defaultValue: i } : { dedupCaseInsensitive: i % 4 === 1 }));
      const answers = await Promise.all(bodies.map((body) => t.api('PUT', '/api/v1/settings', { body })));
      for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));

      const memory = (await t.api('GET', '/api/v1/settings')).body as SettingsValues;
      const stored = await t.server.store.settings.all();
      assert.deepEqual({ ...initial, ...stored }, memory, 'the database holds what memory holds');

      const audit = (await t.api('GET', `/api/v1/audit?limit=${UPDATES + 10}`)).body.entries as SettingsAudit[];
      const updates = audit.filter((entry) => entry.action === 'settings.update').sort((a, b) => a.id - b.id);
      assert.equal(updates.length, UPDATES);
      // The audit is a chain: each update starts where the one before ended.
      let expected = initial;
      for (const entry of updates) {
        assert.deepEqual(entry.details.before, expected, `audit entry ${entry.id} starts where the last ended`);
        expected = entry.details.after;
      }
      assert.deepEqual(expected, memory, "the last audit entry's `after` is what memory holds");
      // Every PUT answered the settings just after its own change, in commit order.
      const answered = answers.map((answer) => JSON.stringify(answer.body)).sort();
      const audited = updates.map((entry) => JSON.stringify(entry.details.after)).sort();
      assert.deepEqual(answered, audited, 'each answer is the `after` of one audit entry');
    });
  });
}
