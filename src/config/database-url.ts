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

// Query parameters `pg` reads that hold secrets.
const SECRET_PARAMS = /^(password|sslpassword)$/i;

/**
 * A database URL fit for a log line or an error message: the password in
 * the user part and in `password=`/`sslpassword=` parameters is `***`.
 * Not a URL (a file path), it is shown as given.
 */
export function redactDatabaseUrl(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Unparseable: hide everything between the scheme and the host.
    return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1***@');
  }
  if (url.password !== '') url.password = '***';
  for (const key of [...url.searchParams.keys()]) if (SECRET_PARAMS.test(key)) url.searchParams.set(key, '***');
  return url.toString().replaceAll('%2A%2A%2A', '***');
}

/** The store named for people: the SQLite path, or the PostgreSQL URL without secrets. */
export function describeDatabase(target: DatabaseTarget): string {
  return target.driver === 'sqlite' ? `sqlite:${target.path}` : redactDatabaseUrl(target.url);
}
