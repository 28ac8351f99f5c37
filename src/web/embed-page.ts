import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { contentSecurityPolicy } from './content-security-policy.js';
import { setPageHeaders } from './page-headers.js';

export interface EmbedPageOptions {
  /** `CODECAST_ALLOWED_ORIGINS` as configured: normalised origins, `['*']`, or none. */
  readonly parentOrigins: readonly string[];
  /** The folder holding `embed.html`. */
  readonly publicDir: string;
}

/** What the embedding page may say in the frame's URL: how it looks and the tag its messages carry. Never a token. */
interface EmbedQuery {
  readonly theme: 'auto' | 'light' | 'dark';
  /** `#rrggbb`, or empty for the page's own accent. */
  readonly accent: string;
  /** Echoed in every message to the parent, so an old parent's filter on `nonce` keeps working; empty for none. */
  readonly nonce: string;
}

const THEMES: ReadonlySet<string> = new Set(['auto', 'light', 'dark']);
const ACCENT = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i;
const NONCE = /^[\w.:-]{1,128}$/;
const PLACEHOLDER = /\{\{(theme|accent|nonce|parents)\}\}/g;

/**
 * A refusal of the query. The web layer takes nothing from the domain, so
 * it throws what Fastify throws for a bad request: the HTTP layer's error
 * mapping turns a 400 into `invalid_request` with this message.
 */
class EmbedQueryError extends Error {
  readonly statusCode = 400;
}

/**
 * The frame-ancestors of the embed: the allowed origins and the server's
 * own (so a page of codecast's origin may frame it, and with no list only
 * such a page can), or every origin with `*`.
 */
export function embedFrameAncestors(parentOrigins: readonly string[]): readonly string[] {
  return parentOrigins.includes('*') ? ['*'] : ["'self'", ...parentOrigins];
}

function parseEmbedQuery(query: Readonly<Record<string, unknown>>): EmbedQuery {
  let theme: EmbedQuery['theme'] = 'auto';
  let accent = '';
  let nonce = '';
  for (const [name, value] of Object.entries(query)) {
    // The same rule as the request log's redaction: any name mentioning a token.
    if (/token/i.test(name)) {
      throw new EmbedQueryError(
        'The embed takes its token from the embedding page by postMessage (codecast:token), never in its URL, where logs and browser history keep it.',
      );
    }
    if (typeof value !== 'string') throw new EmbedQueryError(`querystring.${name} is given more than once.`);
    if (name === 'theme') {
      if (!THEMES.has(value)) throw new EmbedQueryError('querystring.theme must be auto, light or dark.');
      theme = value as EmbedQuery['theme'];
    } else if (name === 'accent') {
      const hex = ACCENT.exec(value)?.[1];
      if (hex === undefined) {
        throw new EmbedQueryError('querystring.accent must be a colour of 3 or 6 hex digits, # optional (%23 in a URL), such as 0a7d38.');
      }
      accent = `#${(hex.length === 3 ? [...hex].map((digit) => digit + digit).join('') : hex).toLowerCase()}`;
    } else if (name === 'nonce') {
      if (!NONCE.test(value)) throw new EmbedQueryError('querystring.nonce must be 1 to 128 letters, digits, or _ . : -');
      nonce = value;
    } else {
      throw new EmbedQueryError(`querystring has an unknown field "${name}": the embed takes theme, accent and nonce.`);
    }
  }
  return { theme, accent, nonce };
}

function escapeAttribute(text: string): string {
  return text.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * `GET /embed`: the live list of codes for another site's iframe (issue
 * 13). The page gets its token from the page that frames it, by
 * postMessage (see public/assets/js/embed/); here it gets only what it may
 * show in any URL: its look, the tag of its messages, and which parents it
 * may talk to, written into the page (the same list its `frame-ancestors`
 * names, so nothing the browser was not told already).
 */
export const embedPage: FastifyPluginAsync<EmbedPageOptions> = async (app, options) => {
  const template = await readFile(join(options.publicDir, 'embed.html'), 'utf8');
  for (const name of ['theme', 'accent', 'nonce', 'parents']) {
    if (!template.includes(`{{${name}}}`)) throw new Error(`embed.html lacks the placeholder {{${name}}}`);
  }
  const policy = contentSecurityPolicy({ frameAncestors: embedFrameAncestors(options.parentOrigins) });
  const parents = options.parentOrigins.join(' ');

  app.get('/embed', (request, reply) => {
    const query = parseEmbedQuery(request.query as Record<string, unknown>);
    const values: Record<string, string> = { ...query, parents };
    const html = template.replace(PLACEHOLDER, (_match, name: string) => escapeAttribute(values[name] ?? ''));
    return setPageHeaders(reply, policy).type('text/html; charset=utf-8').send(html);
  });
};
