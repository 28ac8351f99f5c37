import { isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the store lives, as `DATABASE_URL` names it. */
export type DatabaseTarget =
  | { readonly driver: 'sqlite'; readonly path: string }
  | {
      readonly driver: 'postgres';
      /** The URL as given; `pg` reads host, port, database, user, password and TLS options (`sslmode`…) from it. */
      readonly url: string;
      /** Most connections the pool opens. */
      readonly poolMax: number;
      /** How long a new connection may take before the attempt fails. */
      readonly connectTimeoutMs: number;
      /** How long one statement may run before the server cancels it. */
      readonly statementTimeoutMs: number;
    };

/** What DATABASE_URL accepts, for error messages and `--help`. */
export const DATABASE_URL_FORMS = 'sqlite:PATH, a file path, or postgres://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://)';

export type ParsedDatabaseUrl = { driver: 'sqlite'; path: string } | { driver: 'postgres'; url: string };

const ENCODE_HINT = 'percent-encode a "/", "?", "#" or "@" in the user or password (%2F, %3F, %23, %40)';

/** The store a DATABASE_URL names, or an Error saying why it names none. */
export function parseDatabaseUrl(value: string): ParsedDatabaseUrl | Error {
  if (/^postgres(ql)?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return new Error(`not a URL; ${ENCODE_HINT}`);
    }
    if (misreadUserPart(url)) return new Error(ENCODE_HINT);
    if (url.hostname === '' && !url.searchParams.has('host')) return new Error('no host');
    return { driver: 'postgres', url: value };
  }
  if (value.startsWith('sqlite://')) return sqlitePath(value.slice('sqlite://'.length));
  if (value.startsWith('sqlite:')) return sqlitePath(value.slice('sqlite:'.length));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return new Error('unknown scheme');
  return sqlitePath(value);
}

/**
 * Whether a URL parser has probably read part of a password as a host, a
 * port, a path or a query: it ends the user part at the first "/", "?" or
 * "#", so `postgres://app:4711/Xy@db/codecast` parses as host `app`, port
 * 4711, and the rest of the password lands in the path with an "@" after
 * it. An "@" in the path or fragment, or in a query segment before any
 * "=", is that; `?user=me@corp` is not.
 */
function misreadUserPart(url: URL): boolean {
  if (url.pathname.includes('@') || url.hash.includes('@')) return true;
  return url.search
    .slice(1)
    .split('&')
    .some((segment) => {
      const at = segment.indexOf('@');
      return at >= 0 && !segment.slice(0, at).includes('=');
    });
}

/** The directory codecast is installed in (where its package.json is): from src/config or dist/config alike. */
export const INSTALL_DIR = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Where a relative SQLite path is taken from. In a checkout (or a copy of
 * one, as deploy/ installs it), the install directory, not wherever a
 * command happens to run: `npm start` runs there, and `codecast user list`
 * typed in another directory must open the same file, not quietly make a
 * new one. A package installed under node_modules would keep its data
 * where the next install deletes it: there, the working directory.
 */
export function relativeBase(installDir = INSTALL_DIR, cwd = process.cwd()): string {
  return installDir.split(sep).includes('node_modules') ? cwd : installDir;
}

function sqlitePath(path: string): ParsedDatabaseUrl | Error {
  if (path.length === 0) return new Error('no path');
  return { driver: 'sqlite', path: path === ':memory:' || isAbsolute(path) ? path : resolve(relativeBase(), path) };
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
// Query parameters `pg` reads that hold secrets, by their decoded names.
const SECRET_PARAMS = new Set(['password', 'sslpassword']);

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' ')).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}

/** The query with the value of every secret parameter (`password`, `sslpassword`, however encoded) as `***`. */
function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq >= 0 && SECRET_PARAMS.has(decodedName(pair.slice(0, eq))) ? `${pair.slice(0, eq)}=***` : pair;
    })
    .join('&');
}

/**
 * A database URL fit for a log line or an error message; not a URL (a file
 * path), it is shown as given. Secret query parameters are `***`. A URL
 * that parses plainly shows its password as `***`; one that does not, or
 * that a parser would misread (see `misreadUserPart`), shows everything
 * between the user name and the last "@" as `***`: more hidden than needed
 * rather than a password shown.
 */
export function redactDatabaseUrl(text: string): string {
  const scheme = SCHEME.exec(text)?.[0];
  if (scheme === undefined) return text;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url && !misreadUserPart(url)) {
    if (url.password !== '') url.password = '***';
    url.search = url.search === '' ? '' : `?${redactQuery(url.search.slice(1))}`;
    return url.toString().replaceAll('%2A%2A%2A', '***');
  }
  const after = text.slice(scheme.length);
  const at = after.lastIndexOf('@');
  let shown = text;
  if (at >= 0) {
    const userinfo = after.slice(0, at);
    const colon = userinfo.indexOf(':');
    shown = `${scheme}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}${after.slice(at)}`;
  }
  const q = shown.indexOf('?');
  return q < 0 ? shown : `${shown.slice(0, q + 1)}${redactQuery(shown.slice(q + 1))}`;
}

/** The store named for people: the SQLite path, or the PostgreSQL URL without secrets. */
export function describeDatabase(target: DatabaseTarget): string {
  return target.driver === 'sqlite' ? `sqlite:${target.path}` : redactDatabaseUrl(target.url);
}
