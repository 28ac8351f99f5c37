import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { settingsTable } from '../src/config/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('the README documents every setting with its default', () => {
  for (const spec of settingsTable) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${spec.env}\` |`));
    assert.ok(row, `README has no row for ${spec.env}`);
    const shown = spec.default === undefined ? '(unset)' : `\`${spec.default}\``;
    assert.equal(row.split('|')[2]?.trim(), shown, `README shows the wrong default for ${spec.env}`);
  }
});

test('the README quick start is the two commands', () => {
  assert.match(readme, /npm install && npm start/);
  assert.match(readme, /npm test/);
});
