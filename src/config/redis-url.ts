/** What REDIS_URL accepts, for error messages and `--help`. */
export const REDIS_URL_FORMS = 'redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss:// for TLS';

/** The URL as given when it names a Redis server, or an Error saying why it does not. */
export function parseRedisUrl(value: string): string | Error {
  if (!/^rediss?:\/\//i.test(value)) return new Error('not a redis:// or rediss:// URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return new Error('not a URL; percent-encode a "/", "?", "#" or "@" in the password');
  }
  if (url.hostname === '') return new Error('no host');
  // node-redis reads the path as the database number and refuses anything else at connect time.
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) return new Error(`"/${db}" is not a database number`);
  return value;
}
