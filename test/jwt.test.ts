// Issue 13: an application's backend mints short-lived JWTs, and a JWT it
// minted connects its user — made on the first connection as a plain user,
// disabled like any other. Real keys made here, real jose on both sides, the
// real server, real clients of every transport.
import assert from 'node:assert/strict';
import { createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BROKER_KINDS } from '../src/broker/index.js';
import { ConfigError, loadConfig } from '../src/config/index.js';
import type { CodecastError } from '../src/domain/index.js';
import { JwtVerifier } from '../src/users/index.js';
import { connectSubscriber, TRANSPORT_KINDS, type Subscriber } from './support/clients.js';
import { backend, JWT_SECRET, nowSeconds, sign, unsignedJwt, type Backend, type KeyForm, type SigningAlg } from './support/jwt.js';
import { memoryLogger } from './support/memory-log.js';
import { startTestServer, type ApiResponse, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';
import { startTwoNodes } from './support/two-nodes.js';

const AUDIENCE = 'codecast-test';
const ISSUER = 'https://app.example/backend';

interface ListedUser {
  id: number;
  username: string;
  role: string;
  disabled: boolean;
}

async function usersNamed(t: TestServer, name: string): Promise<ListedUser[]> {
  const res = await t.api('GET', '/api/v1/users');
  assert.equal(res.status, 200);
  return (res.body.users as ListedUser[]).filter((u) => u.username.toLowerCase() === name.toLowerCase());
}

async function userCreations(t: TestServer, name: string): Promise<{ actor: string | null; details: unknown }[]> {
  const res = await t.api('GET', '/api/v1/audit?limit=1000');
  assert.equal(res.status, 200);
  return (res.body.entries as { action: string; target: string; actor: string | null; details: unknown }[]).filter(
    (e) => e.action === 'user.create' && e.target.toLowerCase() === name.toLowerCase(),
  );
}

function assertError(res: ApiResponse, status: number, error: string, message?: RegExp): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body?.error, error, JSON.stringify(res.body));
  if (message) assert.match(res.body.message, message);
}

const me = (t: TestServer, token: string) => t.api('GET', '/api/v1/me', { token });

/** Polls an asynchronous condition (a WebSocket ack has no answer to await). */
async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const base64url = (text: string) => Buffer.from(text).toString('base64url');

describe('JWTs signed with an HMAC secret', () => {
  const hs = backend('HS256');
  let t: TestServer;
  /** A token as the backend mints it for this server: its audience and issuer, 5 minutes. */
  const mint = (sub: string | undefined, claims = {}) => hs.mint(sub, { aud: AUDIENCE, iss: ISSUER, ...claims });

  before(async () => {
    t = await startTestServer({
      ...hs.env,
      CODECAST_JWT_ALGORITHMS: 'HS256',
      CODECAST_JWT_AUDIENCE: `other-service, ${AUDIENCE}`,
      CODECAST_JWT_ISSUER: ISSUER,
      // Refusals by the dozen here; the budget has its own suite below.
      CODECAST_AUTH_FAILURES_PER_MINUTE: '1000000',
    });
  });
  after(async () => {
    await t?.stop();
  });

  for (const transport of TRANSPORT_KINDS) {
    test(`a JWT minted by the backend connects a new user over ${transport}, whose acks count as its own`, async () => {
      const name = `jwt-new-${transport}`;
      assert.deepEqual(await usersNamed(t, name), []);
      const subscriber = await connectSubscriber(transport, t.url, { token: await mint(name) });
      try {
        assert.equal(subscriber.status, 'open', `refused: ${subscriber.refusal}`);
        const { id } = await t.publish(`JWT-${transport}`);
        await subscriber.waitForCodes(1);
        assert.deepEqual(subscriber.codeIds, [id]);
        await subscriber.ack(id);
        await eventually(async () => (await t.api('GET', `/api/v1/codes/${id}`)).body.acks.users === 1, 'the ack counted');
      } finally {
        await subscriber.close();
      }
      const [user, ...others] = await usersNamed(t, name);
      assert.deepEqual(others, []);
      assert.equal(user?.role, 'user');
      assert.equal(user?.disabled, false);
      assert.deepEqual(
        (await userCreations(t, name)).map(({ actor, details }) => ({ actor, details })),
        [{ actor: null, details: { role: 'user', via: 'jwt' } }],
      );
    });
  }

  test('a JWT works on the HTTP API wherever a user token does, and only there', async () => {
    const token = await mint('jwt-api-user');
    const who = await me(t, token);
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal(who.body.user.username, 'jwt-api-user');
    assert.equal(who.body.user.role, 'user');
    assert.equal(who.body.tokenId, null, 'a JWT has no token row');
    const { id } = await t.publish('JWT-API-1');
    const history = await t.api('GET', '/api/v1/codes', { token });
    assert.equal(history.status, 200);
    assert.ok(history.body.codes.some((c: { id: number }) => c.id === id));
    const ack = await t.api('POST', `/api/v1/codes/${id}/ack`, { token });
    assert.equal(ack.status, 200, JSON.stringify(ack.body));
    assert.equal((await t.api('GET', `/api/v1/codes/${id}`)).body.acks.users, 1);
    assertError(await t.api('GET', '/api/v1/users', { token }), 403, 'forbidden');
    assertError(await t.api('POST', '/api/v1/codes', { token, body: { code: 'FROM-JWT' } }), 403, 'forbidden');
  });

  test('a sub names one user whatever its case, and a user an admin made signs in by JWT too', async () => {
    const first = await me(t, await mint('Jwt-Case'));
    const second = await me(t, await mint('jwt-CASE'));
    assert.equal(first.status, 200);
    assert.equal(second.body.user.id, first.body.user.id);
    assert.equal(second.body.user.username, 'Jwt-Case', 'the name as first seen');
    assert.equal((await usersNamed(t, 'jwt-case')).length, 1);

    const made = await t.createUser('jwt-made-by-admin');
    const signedIn = await me(t, await mint('jwt-made-by-admin'));
    assert.equal(signedIn.body.user.id, made.id);
    assert.deepEqual(
      (await userCreations(t, 'jwt-made-by-admin')).map((e) => e.actor),
      ['admin'],
      'no second creation',
    );
  });

  test('a JWT never signs in as an admin: 403 forbidden, for an admin now or one promoted later', async () => {
    assertError(await me(t, await mint('admin')), 403, 'forbidden', /cannot sign in as an admin/);
    const token = await mint('jwt-promoted');
    assert.equal((await me(t, token)).status, 200);
    assert.equal((await t.api('PATCH', '/api/v1/users/jwt-promoted', { body: { role: 'admin' } })).status, 200);
    assertError(await me(t, token), 403, 'forbidden');
    assertError(await t.api('GET', '/api/v1/stats', { token }), 403, 'forbidden');
  });

  test('each refusal is 401 and says what is wrong; none creates a user', async () => {
    const now = nowSeconds();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const good = { aud: AUDIENCE, iss: ISSUER, exp: now + 300 };
    const otherSecret = new TextEncoder().encode('another-secret-that-is-long-enough-0123');
    const tampered = async (sub: string) => {
      const [header, , signature] = (await mint(sub)).split('.');
      const claims = Buffer.from(JSON.stringify({ ...good, sub: 'jwt-someone-else' })).toString('base64url');
      return `${header}.${claims}.${signature}`;
    };
    const cases: [string, (sub: string) => Promise<string> | string, string, RegExp][] = [
      ['expired', (sub) => mint(sub, { exp: now - 60 }), 'token_expired', /has expired/],
      ['not valid yet', (sub) => mint(sub, { nbf: now + 120 }), 'unauthorized', /not valid yet/],
      ['signed with another secret', (sub) => sign({ ...good, sub }, 'HS256', otherSecret), 'unauthorized', /signature/],
      ['claims changed after signing', tampered, 'unauthorized', /signature/],
      ['alg none', (sub) => unsignedJwt({ ...good, sub }), 'unauthorized', /alg is not one this server accepts/],
      [
        'alg none, signature kept',
        async (sub) => `${unsignedJwt({ ...good, sub })}${(await mint(sub)).split('.')[2]}`,
        'unauthorized',
        /alg/,
      ],
      ['an algorithm not accepted (HS384)', (sub) => sign({ ...good, sub }, 'HS384', hs.key), 'unauthorized', /alg/],
      ['an asymmetric algorithm (RS256)', (sub) => sign({ ...good, sub }, 'RS256', rsa), 'unauthorized', /alg/],
      ['another audience', (sub) => mint(sub, { aud: 'someone-else' }), 'unauthorized', /aud does not name/],
      ['no audience', (sub) => mint(sub, { aud: undefined }), 'unauthorized', /no aud/],
      ['another issuer', (sub) => mint(sub, { iss: 'https://evil.example' }), 'unauthorized', /iss is not/],
      ['no exp', (sub) => mint(sub, { exp: undefined }), 'unauthorized', /no exp/],
      ['exp not a number', (sub) => mint(sub, { exp: 'tomorrow' as unknown as number }), 'unauthorized', /exp must be a number/],
      ['exp too far ahead', (sub) => mint(sub, { exp: now + 2 * 86_400 }), 'unauthorized', /too far ahead/],
      ['no sub', () => mint(undefined), 'unauthorized', /no sub/],
      ['a sub that is no username', () => mint('not a name!'), 'unauthorized', /sub must be a username/],
      ['longer than 8192 characters', (sub) => mint(sub, { pad: 'x'.repeat(8200) }), 'unauthorized', /too long: .* at most 8192/],
      [
        'an extension in crit this server does not understand',
        (sub) => sign({ ...good, sub }, 'HS256', hs.key, { crit: ['urn:example:pop'], 'urn:example:pop': true }),
        'unauthorized',
        /lists in crit an extension this server does not understand/,
      ],
      [
        'a header that is not JSON',
        (sub) => `${base64url('{"alg": HS256')}.${base64url(JSON.stringify({ ...good, sub }))}.c2ln`,
        'unauthorized',
        /malformed/,
      ],
    ];
    const messages = new Set<string>();
    for (const [index, [what, make, error, message]] of cases.entries()) {
      const res = await me(t, await make(`jwt-refused-${index}`));
      assert.equal(res.status, 401, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, error, `${what}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.message, message, what);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, what);
      messages.add(res.body.message);
    }
    assert.ok(messages.size >= 15, `distinct messages: ${[...messages].join(' | ')}`);
    const refusedUsers = (await t.api('GET', '/api/v1/users')).body.users.filter((u: ListedUser) =>
      /^jwt-refused|someone-else/.test(u.username),
    );
    assert.deepEqual(refusedUsers, []);
  });

  test('clocks may disagree by 30 s (CODECAST_JWT_CLOCK_SKEW_SECONDS), not more', async () => {
    const now = nowSeconds();
    assert.equal((await me(t, await mint('jwt-skew', { exp: now - 10 }))).status, 200, 'expired 10 s ago');
    assert.equal((await me(t, await mint('jwt-skew', { nbf: now + 10 }))).status, 200, 'valid in 10 s');
    assertError(await me(t, await mint('jwt-skew', { exp: now - 40 })), 401, 'token_expired');
    assertError(await me(t, await mint('jwt-skew', { nbf: now + 40 })), 401, 'unauthorized', /not valid yet/);
  });

  for (const transport of TRANSPORT_KINDS) {
    test(`refused JWTs over ${transport}: expired, badly signed, unsigned, naming an admin`, async () => {
      const claims = { sub: 'jwt-stream-refused', aud: AUDIENCE, iss: ISSUER, exp: nowSeconds() + 60 };
      const refusals: (string | undefined)[] = [];
      const statuses: (number | undefined)[] = [];
      for (const token of [
        await mint('jwt-stream-refused', { exp: nowSeconds() - 60 }),
        await sign(claims, 'HS256', new TextEncoder().encode('x'.repeat(40))),
        unsignedJwt(claims),
        await mint('admin'),
      ]) {
        const subscriber = await connectSubscriber(transport, t.url, { token });
        await subscriber.waitForEnd();
        assert.equal(subscriber.status, 'refused');
        refusals.push(subscriber.refusal);
        statuses.push(subscriber.closeInfo?.code);
      }
      assert.deepEqual(refusals, ['token_expired', 'unauthorized', 'unauthorized', 'forbidden']);
      if (transport === 'sse') assert.deepEqual(statuses, [401, 401, 401, 403]);
      if (transport === 'ws') assert.deepEqual(statuses, [4401, 4401, 4401, 4403]);
      assert.deepEqual(await usersNamed(t, 'jwt-stream-refused'), []);
    });

    test(`disabling a JWT user closes its ${transport} connection at once; its valid JWT then gets 403 user_disabled`, async () => {
      const name = `jwt-disabled-${transport}`;
      const token = await mint(name);
      const subscriber = await connectSubscriber(transport, t.url, { token });
      assert.equal(subscriber.status, 'open', `refused: ${subscriber.refusal}`);
      assert.equal((await t.api('PATCH', `/api/v1/users/${name}`, { body: { disabled: true } })).status, 200);
      await subscriber.waitForEnd();
      const again = await connectSubscriber(transport, t.url, { token });
      await again.waitForEnd();
      assert.equal(again.refusal, 'user_disabled');
      assertError(await me(t, token), 403, 'user_disabled');
      assert.equal((await t.api('PATCH', `/api/v1/users/${name}`, { body: { disabled: false } })).status, 200);
      assert.equal((await me(t, token)).status, 200, 'enabled again');
    });
  }

  test('a crowd connecting with one JWT costs one database lookup', async () => {
    const token = await mint('jwt-crowd');
    const lookups = () => (t.server.stats() as { userCache: { databaseLookups: number } }).userCache.databaseLookups;
    const before = lookups();
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => me(t, token)));
      for (const answer of answers) assert.equal(answer.status, 200);
    }
    assert.equal(lookups() - before, 1);
  });
});

describe('JWTs signed with a public key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-jwt-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const forms: [Exclude<SigningAlg, 'HS256'>, KeyForm][] = [
    ['RS256', 'file'],
    ['ES256', 'pem-escaped'],
    ['EdDSA', 'jwk'],
  ];
  for (const [alg, form] of forms)
    describe(`${alg}, the key given as ${form}`, () => {
      let signer: Backend;
      let t: TestServer;
      before(async () => {
        signer = backend(alg, form, dir);
        t = await startTestServer({ ...signer.env, CODECAST_AUTH_FAILURES_PER_MINUTE: '1000000' });
      });
      after(async () => {
        await t?.stop();
      });

      test('a JWT the backend signed connects a new user', async () => {
        const name = `jwt-${alg.toLowerCase()}`;
        const subscriber: Subscriber = await connectSubscriber('ws', t.url, { token: await signer.mint(name) });
        try {
          assert.equal(subscriber.status, 'open', `refused: ${subscriber.refusal}`);
        } finally {
          await subscriber.close();
        }
        assert.equal((await usersNamed(t, name))[0]?.role, 'user');
      });

      test('a JWT signed with another key of the same kind is refused', async () => {
        const other = backend(alg);
        assertError(await me(t, await other.mint('jwt-impostor')), 401, 'unauthorized', /signature/);
      });

      test('an HS256 JWT whose secret is the public key is refused (algorithm confusion)', async () => {
        const forged = await sign(
          { sub: 'jwt-confused', exp: nowSeconds() + 60 },
          'HS256',
          new TextEncoder().encode(signer.publicPem as string),
        );
        assertError(await me(t, forged), 401, 'unauthorized', /alg is not one this server accepts/);
        assert.deepEqual(await usersNamed(t, 'jwt-confused'), []);
      });
    });
});

describe('the JWT settings, checked at start', () => {
  const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
    assert.fail(`accepted: ${JSON.stringify(Object.keys(env))}`);
  };

  test('the accepted algorithms follow from the keys unless chosen', () => {
    const rsa = pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
    const ed = pem(generateKeyPairSync('ed25519').publicKey);
    const p384 = pem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey);
    assert.deepEqual(loadConfig({ CODECAST_JWT_SECRET: JWT_SECRET }).jwt?.algorithms, ['HS256', 'HS384', 'HS512']);
    assert.deepEqual(loadConfig({ CODECAST_JWT_PUBLIC_KEY: rsa }).jwt?.algorithms, ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);
    assert.deepEqual(loadConfig({ CODECAST_JWT_PUBLIC_KEY: p384 }).jwt?.algorithms, ['ES384']);
    assert.deepEqual(loadConfig({ CODECAST_JWT_SECRET: JWT_SECRET, CODECAST_JWT_PUBLIC_KEY: ed }).jwt?.algorithms, [
      'HS256',
      'HS384',
      'HS512',
      'EdDSA',
      'Ed25519',
    ]);
    const chosen = loadConfig({ CODECAST_JWT_PUBLIC_KEY: rsa, CODECAST_JWT_ALGORITHMS: ' PS256 ,RS256,' }).jwt;
    assert.deepEqual(chosen?.algorithms, ['PS256', 'RS256']);
    assert.equal(chosen?.clockSkewSeconds, 30);
    assert.equal(chosen?.maxLifetimeSeconds, 86_400);
    assert.equal(loadConfig({ CODECAST_JWT_SECRET: JWT_SECRET, CODECAST_JWT_MAX_LIFETIME_SECONDS: '0' }).jwt?.maxLifetimeSeconds, null);
    assert.equal(loadConfig({}).jwt, undefined, 'no key: no JWT');
  });

  test('every problem is named, with what the setting accepts', () => {
    assert.match(
      problems({ CODECAST_JWT_SECRET: JWT_SECRET, CODECAST_JWT_ALGORITHMS: 'HS256,none' }),
      /CODECAST_JWT_ALGORITHMS="HS256,none" is not valid \("none" is never accepted: a JWT must be signed\)/,
    );
    assert.match(problems({ CODECAST_JWT_SECRET: JWT_SECRET, CODECAST_JWT_ALGORITHMS: 'HS257' }), /unknown: HS257/);
    assert.match(
      problems({ CODECAST_JWT_SECRET: JWT_SECRET, CODECAST_JWT_ALGORITHMS: 'HS256,ES256' }),
      /CODECAST_JWT_ALGORITHMS names ES256, which the configured key cannot verify \(HS256, HS384, HS512 can be\)/,
    );
    assert.match(
      problems({ CODECAST_JWT_AUDIENCE: 'codecast', CODECAST_JWT_ALGORITHMS: 'HS256' }),
      /CODECAST_JWT_ALGORITHMS, CODECAST_JWT_AUDIENCE are set, but no JWT is accepted without CODECAST_JWT_SECRET or CODECAST_JWT_PUBLIC_KEY/,
    );
    const several = problems({
      CODECAST_JWT_SECRET: JWT_SECRET,
      CODECAST_JWT_CLOCK_SKEW_SECONDS: '301',
      CODECAST_JWT_MAX_LIFETIME_SECONDS: '-1',
    });
    assert.match(several, /CODECAST_JWT_CLOCK_SKEW_SECONDS="301" is not valid: expected an integer from 0 to 300/);
    assert.match(several, /CODECAST_JWT_MAX_LIFETIME_SECONDS="-1" is not valid/);
    assert.match(problems({ CODECAST_JWT_PUBLIC_KEY: '@/nonexistent/key.pem' }), /cannot read \/nonexistent\/key.pem: ENOENT/);
    assert.match(
      problems({ CODECAST_JWT_PUBLIC_KEY: pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey) }),
      /an RSA key of 1024 bits is too small/,
    );
    assert.match(
      problems({ CODECAST_JWT_PUBLIC_KEY: pem(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey) }),
      /EC secp256k1 keys verify no JWT algorithm/,
    );
    assert.match(
      problems({ CODECAST_JWT_PUBLIC_KEY: '{"kty":"oct","k":"c2VjcmV0"}' }),
      /a symmetric JWK: put an HMAC secret in CODECAST_JWT_SECRET/,
    );
  });

  test('the JWT checks run whatever else is wrong: every problem at once', () => {
    const rsa = pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
    const message = problems({ PORT: 'x', CODECAST_JWT_PUBLIC_KEY: rsa, CODECAST_JWT_ALGORITHMS: 'ES256' });
    assert.match(message, /PORT="x" is not valid/);
    assert.match(message, /CODECAST_JWT_ALGORITHMS names ES256, which the configured key cannot verify/);
    const secret = problems({ PORT: 'x', CODECAST_JWT_SECRET: rsa });
    assert.match(secret, /PORT="x" is not valid/);
    assert.match(secret, /CODECAST_JWT_SECRET \(its value is not shown\) is not valid \(it holds a PEM key/);
    // So do the other checks of settings together.
    const others = problems({ PORT: 'x', CODECAST_HEARTBEAT_SECONDS: '60', CODECAST_STALE_SECONDS: '30' });
    assert.match(others, /PORT="x" is not valid/);
    assert.match(others, /CODECAST_STALE_SECONDS must be longer than CODECAST_HEARTBEAT_SECONDS/);
    // A check whose own setting is refused is not run on a value it does not have.
    const own = problems({ CODECAST_JWT_ALGORITHMS: 'ES256', CODECAST_JWT_PUBLIC_KEY: 'not a key' });
    assert.match(own, /CODECAST_JWT_PUBLIC_KEY \(its value is not shown\) is not valid/);
    assert.doesNotMatch(own, /cannot verify|no JWT is accepted/);
  });

  // An HMAC key is the bytes it is given: with a public key as the secret,
  // whoever has the public key mints HS256 tokens that verify.
  test('a public key in CODECAST_JWT_SECRET is refused, without showing it', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const rsaPem = pem(rsa);
    const ed = generateKeyPairSync('ed25519').publicKey;
    const body = (text: string) => text.replace(/-----[A-Z ]+-----/g, '').replaceAll('\n', '');
    const cases: [string, Record<string, string>, RegExp][] = [
      ['a PEM public key', { CODECAST_JWT_SECRET: rsaPem }, /holds a PEM key or certificate/],
      ['a PEM with \\n for newlines', { CODECAST_JWT_SECRET: rsaPem.trim().replaceAll('\n', '\\n') }, /holds a PEM key/],
      ['both set to one PEM', { CODECAST_JWT_SECRET: rsaPem, CODECAST_JWT_PUBLIC_KEY: rsaPem }, /the text of CODECAST_JWT_PUBLIC_KEY/],
      ['a public JWK', { CODECAST_JWT_SECRET: JSON.stringify(rsa.export({ format: 'jwk' })) }, /is a JWK/],
      ['a JWK set', { CODECAST_JWT_SECRET: JSON.stringify({ keys: [ed.export({ format: 'jwk' })] }) }, /is a JWK/],
      ['the base64 body of a PEM', { CODECAST_JWT_SECRET: body(rsaPem) }, /a public key in base64/],
      ['an Ed25519 key in base64', { CODECAST_JWT_SECRET: body(pem(ed)) }, /a public key in base64/],
    ];
    for (const [what, env, reason] of cases) {
      const message = problems(env);
      assert.match(message, /CODECAST_JWT_SECRET \(its value is not shown\) is not valid/, what);
      assert.match(message, reason, what);
      assert.match(message, /any HS256 token signed with this text would be accepted/, what);
      const secret = env.CODECAST_JWT_SECRET as string;
      const pieces = body(secret).match(/[A-Za-z0-9+/]{16}/g) ?? [];
      for (const piece of pieces) assert.ok(!message.includes(piece), `${what}: the message shows ${piece}`);
    }
    // A random secret, in base64 as `openssl rand -base64 48` gives it, is one.
    assert.equal(loadConfig({ CODECAST_JWT_SECRET: randomBytes(48).toString('base64') }).jwt?.secret?.type, 'secret');
  });
});

describe('a JWT key without CODECAST_JWT_AUDIENCE', () => {
  const warnings = async (env: Record<string, string>): Promise<string[]> => {
    const { logger, lines } = memoryLogger();
    const t = await startTestServer(env, { logger });
    await t.stop();
    return lines.map((line) => JSON.parse(line) as { level: number; msg: string }).flatMap((l) => (l.level === 40 ? [l.msg] : []));
  };

  test('is warned of at start: any JWT the key signs, for whatever, would be a codecast token', async () => {
    const hs = backend('HS256');
    const audience = (msgs: string[]) => msgs.filter((msg) => msg.includes('CODECAST_JWT_AUDIENCE'));
    const [warned] = audience(await warnings(hs.env));
    assert.match(warned ?? '', /CODECAST_JWT_AUDIENCE is unset: any JWT signed with the configured key, whatever it was minted for/);
    assert.ok(!(warned ?? '').includes(JWT_SECRET));
    assert.deepEqual(audience(await warnings({ ...hs.env, CODECAST_JWT_AUDIENCE: AUDIENCE })), []);
    assert.deepEqual(audience(await warnings({})), [], 'no key, no JWT, no warning');
  });
});

describe('a server with no JWT key', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t?.stop();
  });

  test('refuses a JWT as an unknown token, saying it has no key for JWTs, and opaque tokens work as ever', async () => {
    const token = await backend('HS256').mint('jwt-nowhere');
    assertError(await me(t, token), 401, 'unauthorized', /looks like a JWT, and this server has no key/);
    assert.deepEqual(await usersNamed(t, 'jwt-nowhere'), []);
    const user = await t.createUser('opaque-only');
    assert.equal((await me(t, user.token)).body.tokenId, user.tokenId);
  });
});

describe('refused JWTs count against the per-address failure budget', () => {
  const hs = backend('HS256');
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ ...hs.env, CODECAST_AUTH_FAILURES_PER_MINUTE: '3' });
  });
  after(async () => {
    await t?.stop();
  });

  // Expired tokens come first: counted, they would use up the budget.
  test('expired JWTs are not counted: a page retrying its old tokens still gets in with a fresh one', async () => {
    for (let i = 0; i < 5; i++) {
      const old = await hs.mint('jwt-budget-expired', { exp: nowSeconds() - 600, jti: `old-${i}` });
      assertError(await me(t, old), 401, 'token_expired');
      assertError(await me(t, old), 401, 'token_expired', /has expired/);
    }
    assert.equal((await me(t, await hs.mint('jwt-budget-expired'))).status, 200);
  });

  test('past the budget: 429 before any check; a JWT verified earlier still works', async () => {
    // The admin's token is known (cached) before the budget runs out, as is one JWT.
    assert.equal((await t.api('GET', '/api/v1/me')).status, 200);
    const known = await hs.mint('jwt-budget-known');
    assert.equal((await me(t, known)).status, 200);
    const bad = [
      await hs.mint('jwt-budget', { nbf: nowSeconds() + 600 }),
      await sign({ sub: 'jwt-budget', exp: nowSeconds() + 60 }, 'HS256', new TextEncoder().encode('y'.repeat(40))),
      unsignedJwt({ sub: 'jwt-budget', exp: nowSeconds() + 60 }),
    ];
    for (const token of bad) assert.equal((await me(t, token)).status, 401);
    const limited = await me(t, await hs.mint('jwt-budget-new'));
    // The message fits a JWT as well as an opaque token.
    assertError(limited, 429, 'too_many_auth_failures', /^Too many refused tokens from this address/);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // One budget: an unknown opaque token is refused alike.
    assertError(await me(t, 'cc_unknown-token-after-jwts-0123456789abcdef'), 429, 'too_many_auth_failures');
    assert.equal((await me(t, known)).status, 200);
    assert.deepEqual(await usersNamed(t, 'jwt-budget-new'), []);
  });
});

describe('the verifier remembers a verified JWT until it expires', () => {
  test('one signature check per token while it holds, none kept past its exp', async () => {
    const verifier = new JwtVerifier(
      {
        secret: createSecretKey(Buffer.from(JWT_SECRET)),
        publicKey: undefined,
        algorithms: ['HS256'],
        audience: undefined,
        issuer: undefined,
        clockSkewSeconds: 0,
        maxLifetimeSeconds: null,
      },
      3,
    );
    const key = new TextEncoder().encode(JWT_SECRET);
    const exp = nowSeconds() + 2;
    const token = await sign({ sub: 'jwt-cached', exp }, 'HS256', key);
    assert.deepEqual(await verifier.verify(token), { subject: 'jwt-cached', expiresAtMs: exp * 1000 });
    assert.deepEqual(verifier.cached(token), { subject: 'jwt-cached', expiresAtMs: exp * 1000 });
    assert.equal(verifier.cached(`${token}x`), undefined);
    // Bounded: three tokens at most.
    for (let i = 0; i < 5; i++) await verifier.verify(await sign({ sub: `jwt-more-${i}`, exp, jti: String(i) }, 'HS256', key));
    assert.deepEqual(verifier.stats(), { verifications: { accepted: 6, expired: 0, refused: 0 }, cacheHits: 1, cached: 3 });
    const fresh = await sign({ sub: 'jwt-cached-2', exp }, 'HS256', key);
    await verifier.verify(fresh);
    await waitFor(() => Date.now() >= exp * 1000 + 20, 'the exp to pass', 4_000);
    assert.equal(verifier.cached(fresh), undefined, 'forgotten at its exp');
    await assert.rejects(verifier.verify(fresh), (error: CodecastError) => error.code === 'token_expired');
    // Found expired once, it is refused again without a signature check.
    const checked = verifier.stats();
    assert.deepEqual(checked.verifications, { accepted: 7, expired: 1, refused: 0 });
    await assert.rejects(verifier.verify(fresh), (error: CodecastError) => error.code === 'token_expired');
    assert.deepEqual(verifier.stats().verifications, checked.verifications);
    assert.equal(verifier.stats().cacheHits, checked.cacheHits + 1);
  });
});

for (const driver of BROKER_KINDS)
  describe(`JWT users on two nodes of one deployment (${driver}: ${driver === 'memory' ? 'SQLite' : 'PostgreSQL and Redis'})`, () => {
    const hs = backend('HS256');
    let a: TestServer;
    let b: TestServer;
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      // A minute between polls: what closes connections on the other node is the broker.
      ({ a, b, drop } = await startTwoNodes(driver, { ...hs.env, CODECAST_AUTH_POLL_MS: '60000' }));
    });
    after(async () => {
      await b?.stop();
      await a?.stop();
      await drop?.();
    });

    test('first connections of one new sub on both nodes at once make one user, created once', async () => {
      const name = 'jwt-race';
      const tokens = await Promise.all(Array.from({ length: 16 }, (_, i) => hs.mint(name, { jti: `race-${i}` })));
      const answers = await Promise.all(tokens.map((token, i) => me(i % 2 === 0 ? a : b, token)));
      for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(new Set(answers.map((answer) => answer.body.user.id)).size, 1);
      assert.equal((await usersNamed(a, name)).length, 1);
      assert.equal((await userCreations(b, name)).length, 1);
    });

    for (const transport of TRANSPORT_KINDS) {
      test(`disabling a JWT user on one node closes its ${transport} connection on the other at once`, async () => {
        const name = `jwt-gone-${transport}`;
        const token = await hs.mint(name);
        const subscriber = await connectSubscriber(transport, b.url, { token });
        assert.equal(subscriber.status, 'open', `refused: ${subscriber.refusal}`);
        const started = Date.now();
        assert.equal((await a.api('PATCH', `/api/v1/users/${name}`, { body: { disabled: true } })).status, 200);
        await subscriber.waitForEnd(5_000);
        assert.ok(Date.now() - started < 5_000, 'closed long before the 60 s poll');
        const again = await connectSubscriber(transport, b.url, { token });
        await again.waitForEnd(5_000);
        assert.equal(again.refusal, 'user_disabled', 'b no longer serves the cached user');
      });
    }
  });
