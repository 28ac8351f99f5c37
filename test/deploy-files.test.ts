// The files in deploy/ that no test can run here (our machines pull no
// images and run no systemd) are held to what the tested parts say: the
// settings they set exist, the file limit covers the connection caps, the
// image installs as the production install does, and the compose file, its
// nginx upstream and its trusted proxy agree with each other.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { settingsTable } from '../src/config/index.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const unit = read('deploy/codecast.service');
const envFile = read('deploy/codecast.env');
const dockerfile = read('deploy/Dockerfile');
const compose = read('deploy/compose.yaml');
const composeUpstream = read('deploy/nginx/codecast-upstream.compose.conf');
const known = new Set<string>(settingsTable.map((spec) => spec.env));
const defaultOf = (env: string) => Number(settingsTable.find((spec) => spec.env === env)?.default);

/** What the file limit must cover: every subscriber, every connection not yet authenticated, and a margin. */
const neededFiles = defaultOf('CODECAST_MAX_CONNECTIONS') + defaultOf('CODECAST_MAX_PENDING_CONNECTIONS') + 1024;

test('the environment file and the compose file set only settings codecast knows', () => {
  const fromEnvFile = [...envFile.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);
  const composeEnvironment = compose.slice(compose.indexOf('  environment:'), compose.indexOf('  ulimits:'));
  const fromCompose = [...composeEnvironment.matchAll(/^ {4}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string);
  assert.ok(fromEnvFile.length >= 5 && fromCompose.length >= 4, `${fromEnvFile} / ${fromCompose}`);
  for (const name of [...fromEnvFile, ...fromCompose]) assert.ok(known.has(name), `${name} is not a codecast setting`);
});

test('the file limit covers the default connection caps, in the unit and the compose file', () => {
  const limit = Number(/^LimitNOFILE=(\d+)$/m.exec(unit)?.[1]);
  assert.ok(limit >= neededFiles, `LimitNOFILE=${limit}, needs ${neededFiles}`);
  const nofile = /nofile: \{ soft: (\d+), hard: (\d+) \}/.exec(compose);
  assert.ok(Number(nofile?.[1]) >= neededFiles && Number(nofile?.[2]) >= neededFiles, `compose nofile ${nofile?.[0]}`);
});

test("the unit and the compose file give codecast's 5 s stop grace room, and stop it with SIGTERM", () => {
  assert.match(unit, /^KillSignal=SIGTERM$/m);
  assert.ok(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]) > 5);
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /^EnvironmentFile=\/etc\/codecast\/env$/m);
  // The SQLite file's directory is writable under ProtectSystem=strict, and is where the environment file puts it.
  assert.match(unit, /^ProtectSystem=strict$/m);
  assert.match(unit, /^ReadWritePaths=\/var\/lib\/codecast$/m);
  assert.match(envFile, /^DATABASE_URL=sqlite:\/var\/lib\/codecast\//m);
  assert.ok(Number(/stop_grace_period: (\d+)s/.exec(compose)?.[1]) > 5);
  assert.match(dockerfile, /^STOPSIGNAL SIGTERM$/m);
});

test('the image installs as the production install does and runs node itself, not npm', () => {
  const runs = [...dockerfile.matchAll(/^RUN (npm .*)$/gm)].map((m) => m[1]);
  assert.deepEqual(runs, ['npm ci', 'npm run build', 'npm ci --omit=dev']);
  const bin = (JSON.parse(read('package.json')) as { bin: { codecast: string } }).bin.codecast;
  assert.match(dockerfile, new RegExp(`^CMD \\["node", "${bin}", "serve"\\]$`, 'm'));
  assert.match(unit, new RegExp(`^ExecStart=/usr/bin/node /opt/codecast/${bin} serve$`, 'm'));
  assert.match(dockerfile, /^USER node$/m);
  // The final image holds what test/production-install.test.ts ships.
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const copied = [...final.matchAll(/^COPY (?:--from=\S+ )?(.+) \S+$/gm)].flatMap((m) => (m[1] as string).split(' '));
  const shipped = ['package.json', 'package-lock.json', 'dist', 'public', 'scripts', 'LICENSE', 'README.md'];
  for (const entry of shipped)
    assert.ok(
      copied.some((path) => path === entry || path.endsWith(`/${entry}`)),
      `the image lacks ${entry}`,
    );
});

test("the compose file's nginx sends to every node, and is the one proxy the nodes trust", () => {
  const nodes = [...compose.matchAll(/^ {2}(codecast-\d+): \*codecast$/gm)].map((m) => m[1]);
  const upstream = [...composeUpstream.matchAll(/^\s*server ([\w-]+):(\d+);$/gm)].map((m) => `${m[1]}:${m[2]}`);
  const port = /PORT=(\d+)/.exec(dockerfile)?.[1];
  assert.equal(nodes.length, 3);
  assert.deepEqual(
    upstream,
    nodes.map((node) => `${node}:${port}`),
  );
  const trusted = /CODECAST_TRUSTED_PROXIES: (\S+)/.exec(compose)?.[1];
  const nginxAddress = /ipv4_address: (\S+)/.exec(compose)?.[1];
  assert.ok(trusted && trusted === nginxAddress, `trusted ${trusted}, nginx at ${nginxAddress}`);
  assert.match(compose, /- \.\/nginx\/codecast\.conf:\/etc\/nginx\/conf\.d\/default\.conf:ro/);
  // Only nginx is published: a node reached through Docker's port forwarding would see a gateway address.
  assert.equal([...compose.matchAll(/^ {4}ports:$/gm)].length, 1);
});
