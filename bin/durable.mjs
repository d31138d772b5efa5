#!/usr/bin/env node
// The `durable` command: `durable worker <app>` (worker/), `durable operator` (operator/), anything else is the CLI
// (src/cli/). Apps are TypeScript, compiled on import by tsx (a runtime dependency), wherever Durable runs from.
//
// Durable itself runs from its TypeScript sources when they are next to this file (a checkout: the dev loop and the
// tests run what is on disk, never a stale build), and otherwise from the JavaScript that `npm run build` put in
// dist/ (the image copies dist/ and no sources, so nothing of Durable is transpiled at start).
//
// Only the commands that load an app (`dev`, `worker`, and the operator as before) need tsx for the app and the hook
// that resolves 'durable' to this copy. The HTTP commands from dist/ load neither: on a 2-core machine that takes
// `durable status` from about 1.2 s to 0.25 s (node alone starts in 0.14 s there). From a checkout the CLI itself is
// TypeScript, so tsx is registered for it, without the hook.
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';
import process from 'node:process';
import { URL } from 'node:url';

const root = new URL('../', import.meta.url);
const fromSource = existsSync(new URL('src/index.ts', root));
const entries = fromSource
  ? { index: 'src/index.ts', cli: 'src/cli/main.ts', worker: 'worker/main.ts', operator: 'operator/main.ts' }
  : {
      index: 'dist/src/index.js',
      cli: 'dist/src/cli/main.js',
      worker: 'dist/worker/main.js',
      operator: 'dist/operator/main.js',
    };

const command = process.argv[2];
const worker = command === 'worker' || command === 'operator';
// `dev` anywhere in the arguments, not only first: `durable --port 0 dev app.ts` loads an app too. A false positive
// (an orchestration named dev) only costs the registration.
const loadsApp = worker || process.argv.slice(2).includes('dev');

if (fromSource || loadsApp) {
  const { register } = await import('tsx/esm/api');
  register();
}
if (loadsApp) {
  // An app's `import … from 'durable'` gets this very copy of Durable (the one whose CLI, worker or operator runs),
  // not another install: one module instance, so the app's error classes are the runtime's. Registered after tsx, so
  // it runs first and tsx loads what it resolves to.
  registerHooks('./resolve-self.mjs', import.meta.url, {
    data: { target: new URL(entries.index, root).href },
  });
}
await import(new URL(worker ? entries[command] : entries.cli, root).href);
