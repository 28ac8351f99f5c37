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

/** The store a DATABASE_URL names, or an Error saying why it names none. */
export function parseDatabaseUrl(value: string): ParsedDatabaseUrl | Error {
  if (/^postgres(ql)?:\/\//i.test(value)) {
    const userinfo = userPart(value)?.userinfo ?? '';
    if (/[/?#]/.test(userinfo)) return new Error('a "/", "?" or "#" in the user or password must be percent-encoded (%2F, %3F, %23)');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return new Error('not a URL');
    }
    if (url.hostname === '' && !url.searchParams.has('host')) return new Error('no host');
    return { driver: 'postgres', url: value };
  }
  if (value.startsWith('sqlite://')) return sqlitePath(value.slice('sqlite://'.length));
  if (value.startsWith('sqlite:')) return sqlitePath(value.slice('sqlite:'.length));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return new Error('unknown scheme');
  return sqlitePath(value);
}

function sqlitePath(path: string): ParsedDatabaseUrl | Error {
  return path.length > 0 ? { driver: 'sqlite', path } : new Error('no path');
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
// Query parameters `pg` reads that hold secrets.
const SECRET_PARAMS = /([?&](?:password|sslpassword)=)[^&#]*/gi;

/**
 * The user part of a URL as a person means it: everything between the
 * scheme and the last `@`. A URL parser ends it at the first `/`, `?` or
 * `#`, so a password holding one unencoded would be read as a host, a port
 * or a path, and shown.
 */
function userPart(text: string): { scheme: string; userinfo: string; rest: string } | undefined {
  const scheme = SCHEME.exec(text)?.[0];
  if (scheme === undefined) return undefined;
  const after = text.slice(scheme.length);
  const at = after.lastIndexOf('@');
  if (at < 0) return undefined;
  return { scheme, userinfo: after.slice(0, at), rest: after.slice(at) };
}

/**
 * A database URL fit for a log line or an error message: the password in
 * the user part (all of it up to the last `@`, whatever it holds) and in
 * `password=`/`sslpassword=` parameters is `***`. Not a URL (a file path),
 * it is shown as given.
 */
export function redactDatabaseUrl(text: string): string {
  const parts = userPart(text);
  let shown = text;
  if (parts) {
    const colon = parts.userinfo.indexOf(':');
    const user = colon < 0 ? parts.userinfo : `${parts.userinfo.slice(0, colon)}:***`;
    shown = `${parts.scheme}${user}${parts.rest}`;
  }
  return SCHEME.test(shown) ? shown.replace(SECRET_PARAMS, '$1***') : shown;
}

/** The store named for people: the SQLite path, or the PostgreSQL URL without secrets. */
export function describeDatabase(target: DatabaseTarget): string {
  return target.driver === 'sqlite' ? `sqlite:${target.path}` : redactDatabaseUrl(target.url);
}
