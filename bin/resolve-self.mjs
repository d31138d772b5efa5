// Module-resolution hook registered by bin/durable.mjs: the specifier 'durable' (the package's own name, as an
// app imports it) resolves to the copy of Durable this process runs: src/index.ts in a checkout, dist/src/index.js
// in the image. Without it an app run by `durable dev` or `durable worker` would load a second copy (the package's
// `exports`, i.e. dist/ even in a checkout, or another install), whose error classes are other classes:
// `instanceof EventTimeoutError` fails and a TerminalError is retried.

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
