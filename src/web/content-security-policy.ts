/**
 * The Content-Security-Policy of every HTML page codecast serves (its own
 * pages and the API docs): scripts, styles and requests from this origin
 * only, no plugins, no framing. Pages that must allow more (the docs' one
 * inline style, their data: fonts; the embed, framed by the allowed origins)
 * name only what they add.
 */
export function contentSecurityPolicy(
  extra: { readonly styles?: readonly string[]; readonly fonts?: readonly string[]; readonly frameAncestors?: readonly string[] } = {},
): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    ["style-src 'self'", ...(extra.styles ?? [])].join(' '),
    "img-src 'self' data:",
    ...(extra.fonts ? [["font-src 'self'", ...extra.fonts].join(' ')] : []),
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    ['frame-ancestors', ...(extra.frameAncestors ?? ["'none'"])].join(' '),
  ].join('; ');
}
