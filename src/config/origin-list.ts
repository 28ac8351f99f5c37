export const ORIGIN_LIST_FORMS =
  'a comma-separated list of origins, each scheme://host[:port] with http or https and nothing after the host or port (https://shop.example.com, http://localhost:3000), or * alone for every origin';

/** scheme://host[:port] and nothing more: no path (not even "/"), query, fragment or user. */
const ORIGIN_SHAPE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+$/i;

/**
 * One origin as a browser writes it in an `Origin` header: the URL
 * standard's serialisation, so the scheme and host are lower case, a
 * default port is dropped and an international name is in punycode. The
 * server then compares origins as plain strings.
 */
function normaliseOrigin(entry: string): string | Error {
  if (entry.includes('*')) return new Error(`"${entry}": no wildcard inside an origin; * alone allows every origin`);
  if (!ORIGIN_SHAPE.test(entry)) return new Error(`"${entry}" is not scheme://host[:port] (no path, not even a trailing /)`);
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return new Error(`"${entry}" is not a valid origin`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return new Error(`"${entry}": the scheme must be http or https`);
  return url.origin;
}

/**
 * The origins whose pages may use codecast from another origin
 * (`CODECAST_ALLOWED_ORIGINS`), normalised, without repeats; or `['*']`,
 * every origin, which must then stand alone. Empty entries (a trailing
 * comma) are dropped.
 */
export function parseOriginList(text: string): readonly string[] | Error {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return new Error('no origin in it');
  if (entries.includes('*')) return entries.length === 1 ? ['*'] : new Error('* allows every origin and stands alone');
  const origins = new Set<string>();
  for (const entry of entries) {
    const origin = normaliseOrigin(entry);
    if (origin instanceof Error) return origin;
    origins.add(origin);
  }
  return [...origins];
}
