// The layers of src/, checked by reading every import: which folder may
// import which, so the seams of issue 10 do not rot. A module is a folder
// of src/ (each transport its own), or a file at the top of src/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

interface Rule {
  /** Modules whose values (and types) it may import. */
  readonly values: readonly string[];
  /** Modules it may import types from only (`import type`), erased at run time. */
  readonly types?: readonly string[];
}

/**
 * Who may import whom. The composition root (app.ts) and the CLI may import
 * anything, and are not listed. The core (domain, hub, users) takes nothing
 * from the store but types: it reaches the database through its own ports.
 */
const RULES: Readonly<Record<string, Rule>> = {
  domain: { values: [] },
  broker: { values: ['domain'], types: ['config'] },
  hub: { values: ['domain'], types: ['store', 'broker'] },
  users: { values: ['domain'], types: ['store'] },
  config: { values: ['domain'] },
  store: { values: ['domain', 'config'] },
  edge: { values: ['domain'], types: ['hub'] },
  http: { values: ['domain', 'edge', 'hub', 'store', 'metrics', 'web'], types: ['users'] },
  // The WebSocket pieces ws and Socket.IO share (frames, fragment limit).
  transports: { values: [] },
  'transports/sse': { values: ['domain', 'edge', 'hub'] },
  'transports/ws': { values: ['domain', 'edge', 'hub', 'transports'] },
  'transports/socketio': { values: ['domain', 'edge', 'hub', 'transports'] },
  metrics: { values: [], types: ['hub', 'users'] },
  web: { values: [] },
  logging: { values: ['edge'] },
  'periodic-tasks': { values: [] },
  // How long rows are kept, and the loop of batches; the store's deletes through a port.
  retention: { values: [], types: ['config'] },
  upkeep: { values: ['periodic-tasks', 'retention'], types: ['hub'] },
  // A node's lease and the per-user cap over the deployment: Redis through
  // the broker's link; the hub only through types, and never the reverse.
  cluster: { values: ['domain', 'broker'], types: ['hub'] },
  'broker-receiver': { values: ['domain'], types: ['broker', 'hub', 'store', 'users'] },
  // The client library ships to browsers on its own: it takes nothing from
  // the server, not even types (client-package.test.ts checks its imports).
  client: { values: [] },
};
const ROOTS = new Set(['app', 'cli']);

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

/** The module a file of src/ belongs to. */
function moduleOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  if (parts.length === 1) return (parts[0] as string).replace(/\.ts$/, '');
  if (parts[0] === 'transports' && parts.length > 2) return `transports/${parts[1]}`;
  return parts[0] as string;
}

interface Import {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
  readonly file: string;
}

// `import … from '…'`, `export … from '…'` and `import '…'`, over several lines.
const IMPORT = /^\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*(?:from\s+)?['"]([^'"]+)['"]/gm;

/** Every import of ours in the file, with whether it brings types only. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const [, , typeKeyword, clause = '', specifier = ''] = match;
    if (!specifier.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
    if (!target.startsWith(SRC)) continue;
    // `import { type A, type B }` is as erased as `import type { A, B }`.
    const braced = /^\{([^}]*)\}$/.exec(clause.trim())?.[1];
    const names =
      braced
        ?.split(',')
        .map((name) => name.trim())
        .filter(Boolean) ?? [];
    const inlineTypes = names.length > 0 && names.every((name) => name.startsWith('type '));
    found.push({
      from: moduleOf(file),
      to: moduleOf(target),
      typeOnly: typeKeyword !== undefined || inlineTypes,
      file: relative(SRC, file),
    });
  }
  return found;
}

const imports = [...sourceFiles(SRC)].flatMap(importsOf).filter((i) => i.from !== i.to);

describe('layers of src/', () => {
  test('the import reader finds the imports it must judge', () => {
    // A reader that found nothing would pass every rule below.
    assert.ok(
      imports.some((i) => i.from === 'app' && i.to === 'hub' && !i.typeOnly),
      'app.ts imports hub values',
    );
    assert.ok(
      imports.some((i) => i.from === 'hub' && i.to === 'store' && i.typeOnly),
      'hub imports store types',
    );
    assert.ok(
      imports.some((i) => i.from === 'transports/ws' && i.to === 'edge'),
      'the WebSocket transport imports the edge',
    );
  });

  test('every module is one the rules know', () => {
    const unknown = new Set(imports.flatMap((i) => [i.from, i.to]).filter((m) => !ROOTS.has(m) && !(m in RULES)));
    assert.deepEqual([...unknown], [], 'a new folder needs its place in RULES');
  });

  test('each module imports only what its layer may', () => {
    const broken = imports
      .filter((i) => !ROOTS.has(i.from))
      .filter((i) => {
        const rule = RULES[i.from] as Rule;
        if (rule.values.includes(i.to)) return false;
        return !(i.typeOnly && rule.types?.includes(i.to));
      })
      .map((i) => `${i.file} imports ${i.typeOnly ? 'types of ' : ''}${i.to}`);
    assert.deepEqual(broken, []);
  });

  test('no two modules import each other', () => {
    const edges = new Set(imports.map((i) => `${i.from} -> ${i.to}`));
    const mutual = [...edges].filter((edge) => {
      const [from, to] = edge.split(' -> ');
      return edges.has(`${to} -> ${from}`);
    });
    assert.deepEqual(mutual, []);
  });

  test('the core and http take narrow ports, never the whole Store', () => {
    // A type import is erased, so the rules above let `Store` through; a
    // part handed the whole store could reach any repository from it.
    const wide = [...sourceFiles(SRC)]
      .filter((file) => ['domain', 'hub', 'users', 'http'].includes(moduleOf(file)))
      .filter((file) => /\bStore\b(?!\w)/.test(readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')))
      .map((file) => relative(SRC, file));
    assert.deepEqual(wide, []);
  });

  test('nothing but the composition root and the CLI imports them', () => {
    const intoRoots = imports.filter((i) => ROOTS.has(i.to) && !ROOTS.has(i.from)).map((i) => `${i.file} imports ${i.to}`);
    assert.deepEqual(intoRoots, []);
  });
});
