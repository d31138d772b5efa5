// Module hooks registered by bin/durable.mjs.
//
// resolve: the specifier 'durable' (the package's own name, as an app imports it) resolves to the copy of Durable
// this process runs: src/index.ts in a checkout, dist/src/index.js in the image or an install. Without it an app run
// by `durable dev` or `durable worker` would load a second copy (the package's `exports`, i.e. dist/ even in a
// checkout, or another install), whose error classes are other classes: `instanceof EventTimeoutError` fails and a
// TerminalError is retried.
//
// load: an app's own modules written with `import`/`export` load as ES modules even where no package.json says
// `"type": "module"` (a project made by `npm init -y`, or none at all). There, Node and tsx treat a `.ts` or `.js`
// file as CommonJS; tsx would compile its `import … from 'durable'` to a `require()` of an ES module that is
// already loading, which Node refuses ("Cannot require() ES Module … in a cycle"). Files under node_modules and
// files without import/export syntax (real CommonJS: `require`, `module.exports`) keep the format Node gives them.
import { readFile } from 'node:fs/promises';
import { fileURLToPath, URL } from 'node:url';

/** @type {string} */
let target = '';

/** @param {{ target: string }} data */
export function initialize(data) {
  target = data.target;
}

/**
 * @param {string} specifier
 * @param {object} context
 * @param {(specifier: string, context?: object) => Promise<unknown>} nextResolve
 */
export function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier === 'durable' ? target : specifier, context);
}

/** A static `import … from`, `import '…'` or `export` at the start of a line: ES module syntax. */
const ESM_SYNTAX =
  /^[ \t]*(?:import[ \t]*(?:[\w{*$]|type[ \t]|['"])|export[ \t]+(?:\{|\*|default|const|let|var|async|function|class|type|interface|enum|abstract|declare)\b)/m;

/**
 * @param {string} url
 * @param {{ format?: string }} context
 * @param {(url: string, context?: object) => Promise<{ format?: string; source?: unknown }>} nextLoad
 */
export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (
    loaded.format !== 'commonjs' ||
    !url.startsWith('file:') ||
    url.includes('/node_modules/') ||
    !/\.(?:ts|tsx|js|jsx)$/.test(new URL(url).pathname)
  ) {
    return loaded;
  }
  const source = await readFile(fileURLToPath(url), 'utf8');
  return ESM_SYNTAX.test(source) ? nextLoad(url, { ...context, format: 'module' }) : loaded;
}
