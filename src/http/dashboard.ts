/**
 * Serves the dashboard (src/dashboard, a Preact app): the HTML shell at `/` and its content-hashed assets under
 * `/assets/`. Both are public: the shell and the script hold no data, and everything the dashboard shows comes from
 * `/api/*`, which needs a token when one is configured.
 *
 * Where the files come from: a built package serves `dist/dashboard/` (written by scripts/build-dashboard.mjs,
 * which calls {@link bundleDashboard}); a checkout running from source under tsx (this module's URL ends in `.ts`)
 * bundles src/dashboard in memory with esbuild, once per process, so `npm start` always shows the current UI.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { HttpError } from './errors.js';

/** What the build writes as `manifest.json`: asset file names (relative to the dashboard folder). */
export interface DashboardManifest {
  readonly script: string;
  readonly style: string;
  readonly favicon: string;
}

export interface DashboardFile {
  /** `assets/main-3FZ2.js` */
  readonly path: string;
  readonly contents: Uint8Array;
}

export interface DashboardBundle {
  readonly manifest: DashboardManifest;
  readonly files: readonly DashboardFile[];
}

/** The policy of the shell and its assets: same-origin only, no inline script or style. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const SOURCE_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));
/** dist/src/http/dashboard.js → dist/dashboard/ */
const BUILT_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));
const FROM_SOURCE = import.meta.url.endsWith('.ts');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function hash(contents: Uint8Array | string, length = 10): string {
  return createHash('sha256').update(contents).digest('hex').slice(0, length);
}

/**
 * Bundles src/dashboard with esbuild (minified; content-hashed names). esbuild is a development dependency: it is
 * imported here only, when bundling, never by a built package at run time.
 * @example
 * const { manifest, files } = await bundleDashboard(); // manifest.script === 'assets/main-XXXXXXXX.js'
 */
export async function bundleDashboard(sourceDir = SOURCE_DIR): Promise<DashboardBundle> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [`${sourceDir}/main.tsx`],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    entryNames: 'assets/[name]-[hash]',
    outdir: '/dashboard',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    tsconfig: `${sourceDir}/tsconfig.json`,
  });
  const files: DashboardFile[] = result.outputFiles.map((file) => ({
    path: file.path.replace(/^.*?\/dashboard\//, ''),
    contents: file.contents,
  }));
  const favicon = await readFile(`${sourceDir}/favicon.svg`);
  const faviconPath = `assets/favicon-${hash(favicon, 8)}.svg`;
  files.push({ path: faviconPath, contents: favicon });
  const script = files.find((f) => f.path.endsWith('.js'))?.path;
  const style = files.find((f) => f.path.endsWith('.css'))?.path;
  if (!script || !style) throw new Error('esbuild wrote no script or no stylesheet for the dashboard.');
  return { manifest: { script, style, favicon: faviconPath }, files };
}

/** The HTML shell: no inline script or style (the CSP forbids both), a noscript line pointing at the API. */
export function renderShell(manifest: DashboardManifest): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Durable</title>
<link rel="icon" type="image/svg+xml" href="/${manifest.favicon}">
<link rel="stylesheet" href="/${manifest.style}">
<script type="module" src="/${manifest.script}"></script>
</head>
<body>
<noscript><p>The Durable dashboard needs JavaScript. Without it, use the HTTP API: every route is described in <a href="/openapi.json">/openapi.json</a>, and <a href="/api/instances">/api/instances</a> lists the instances.</p></noscript>
<div id="app"></div>
</body>
</html>
`;
}

interface Served {
  readonly html: string;
  readonly etag: string;
  readonly assets: ReadonlyMap<string, { readonly contents: Buffer; readonly type: string }>;
}

async function loadBuilt(): Promise<DashboardBundle> {
  const manifest = JSON.parse(await readFile(`${BUILT_DIR}/manifest.json`, 'utf8')) as DashboardManifest;
  const paths = [manifest.script, manifest.style, manifest.favicon];
  const files = await Promise.all(
    paths.map(async (path) => ({ path, contents: await readFile(`${BUILT_DIR}/${path}`) })),
  );
  return { manifest, files };
}

let cached: Promise<Served> | undefined;

/** The files to serve, loaded (or bundled) once per process. */
function served(): Promise<Served> {
  cached ??= (FROM_SOURCE ? bundleDashboard() : loadBuilt()).then(({ manifest, files }) => {
    const html = renderShell(manifest);
    const assets = new Map(
      files.map((f) => [
        f.path.replace(/^assets\//, ''),
        {
          contents: Buffer.from(f.contents),
          type: TYPES[/\.[a-z]+$/.exec(f.path)?.[0] ?? ''] ?? 'application/octet-stream',
        },
      ]),
    );
    return { html, etag: `"${hash(html, 16)}"`, assets };
  });
  return cached;
}

async function servedOrProblem(): Promise<Served> {
  try {
    return await served();
  } catch (error) {
    cached = undefined;
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new HttpError(
      'INTERNAL',
      FROM_SOURCE
        ? `The dashboard could not be bundled: ${why}`
        : `The dashboard is not built (${why}); run npm run build.`,
    );
  }
}

function secure(reply: FastifyReply): FastifyReply {
  return reply.header('content-security-policy', DASHBOARD_CSP).header('x-content-type-options', 'nosniff');
}

/**
 * Adds `GET /` and `GET /assets/:file` (both `public`).
 * @example
 * serveDashboard(app, { access: 'public' });
 */
export function serveDashboard(app: FastifyInstance, config: object): void {
  app.get('/', { config }, async (request, reply) => {
    const { html, etag } = await servedOrProblem();
    secure(reply).header('cache-control', 'no-cache').header('etag', etag);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('text/html; charset=utf-8').send(html);
  });
  app.get('/assets/:file', { config }, async (request, reply) => {
    const { file } = request.params as { file: string };
    const asset = (await servedOrProblem()).assets.get(file);
    if (!asset) throw new HttpError('NOT_FOUND', `No dashboard asset ${file}.`);
    return secure(reply)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(asset.type)
      .send(asset.contents);
  });
}
