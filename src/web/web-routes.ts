import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { contentSecurityPolicy } from './content-security-policy.js';
import { embedPage } from './embed-page.js';
import { setPageHeaders } from './page-headers.js';

/** The folder of the pages: `public/` at the package root, from `src/web/` and `dist/web/` alike. */
const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));
/** uPlot's browser build (an ES module and its stylesheet), served as it ships. */
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));
const VENDOR_FILES = new Set(['/uPlot.esm.js', '/uPlot.min.css']);
/**
 * The client library's browser build (`codecast/client`), which the pages
 * import: compiled by tsc into `dist/client/` (from `src/web/` and
 * `dist/web/` alike), so a checkout serves it once built.
 */
const CLIENT_DIR = fileURLToPath(new URL('../../dist/client/', import.meta.url));
/** Its modules; not the Node entry, which imports `ws`. */
const isBrowserModule = (path: string) => /^\/[a-z-]+\.js$/.test(path) && path !== '/node.js';

// The pages hold a bearer token in sessionStorage, so nothing but codecast's
// own files may run or be fetched, and no other site may frame them.
const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

function sendPage(reply: FastifyReply, file: string): FastifyReply {
  return setPageHeaders(reply, CONTENT_SECURITY_POLICY).sendFile(file, PUBLIC_DIR);
}

export interface WebRoutesOptions {
  /** `CODECAST_ALLOWED_ORIGINS` as configured: the pages that may frame `/embed`. */
  readonly parentOrigins: readonly string[];
}

/**
 * The pages codecast serves itself, with no bundler: `/` for subscribers,
 * `/admin` for operators, `/embed` for other sites' iframes, their scripts
 * and styles under `/assets/`, the client library they connect with under
 * `/assets/client/`, and the charting library under `/vendor/uplot/`.
 */
export const webRoutes: FastifyPluginAsync<WebRoutesOptions> = async (app, options) => {
  await app.register(fastifyStatic, {
    root: `${PUBLIC_DIR}assets`,
    prefix: '/assets/',
    index: false,
    setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
  });
  await app.register(fastifyStatic, {
    root: UPLOT_DIR,
    prefix: '/vendor/uplot/',
    index: false,
    decorateReply: false,
    allowedPath: (path) => VENDOR_FILES.has(path),
    setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
  });

  if (!existsSync(CLIENT_DIR)) app.log.warn(`${CLIENT_DIR} is missing: build first (npm run build), or the pages cannot connect`);
  await app.register(fastifyStatic, {
    root: CLIENT_DIR,
    prefix: '/assets/client/',
    index: false,
    decorateReply: false,
    allowedPath: isBrowserModule,
    setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
  });

  app.get('/', (_request, reply) => sendPage(reply, 'index.html'));
  app.get('/admin', (_request, reply) => sendPage(reply, 'admin.html'));
  await app.register(embedPage, { parentOrigins: options.parentOrigins, publicDir: PUBLIC_DIR });
};
