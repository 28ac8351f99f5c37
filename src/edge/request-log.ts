// A parameter follows `?`, `&` or `;` (or `#`), written as is or
// percent-encoded. Its value runs to the next separator written as is, so
// a token holding an encoded `&` cannot leave its tail behind.
const SEPARATOR = /([?&;#])/;
const ENCODED_SEPARATOR = /(%(?:3f|26|3b|23))/i;

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}

/**
 * The URL as logged or echoed: the value of every parameter whose decoded
 * name mentions a token is replaced, wherever it stands — the query
 * (`?token=`, `?a=1&token=`, `?a=1;token=`), the path (`/stream;token=`), an
 * encoded name (`?%74oken=`) or after an encoded separator (`?a=1%26token=`).
 * Linear in the URL's length: it runs on every request, before any check.
 */
export function redactUrl(url: string): string {
  // Even indexes: the pieces between separators; odd: the separators.
  const parts = url.split(SEPARATOR);
  let redacted = false;
  for (let i = 0; i < parts.length; i += 2) {
    const segments = (parts[i] as string).split(ENCODED_SEPARATOR);
    // The text before the first separator is the path, not a parameter.
    for (let j = i === 0 ? 2 : 0; j < segments.length; j += 2) {
      const segment = segments[j] as string;
      // The name ends at the first `=`, or failing one at an encoded `=`.
      const raw = segment.indexOf('=');
      const nameEnd = raw >= 0 ? raw : segment.toLowerCase().indexOf('%3d');
      if (nameEnd < 0) continue;
      const name = decodeName(segment.slice(0, nameEnd));
      if (!/token/i.test(name)) continue;
      parts[i] = `${segments.slice(0, j).join('')}${name}=[redacted]`;
      redacted = true;
      break;
    }
  }
  return redacted ? parts.join('') : url;
}

/** How a request is logged: no headers, and the URL without tokens. */
export function serializeRequest(req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }) {
  return { method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip ?? req.socket?.remoteAddress };
}
