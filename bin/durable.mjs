#!/usr/bin/env node
// The `durable` command: `durable worker <app>` (worker/), `durable operator` (operator/), anything else is the CLI
// (src/cli/). Apps are TypeScript, compiled on import by tsx (a runtime dependency), wherever Durable runs from.
//
// Durable itself runs from its TypeScript sources when they are next to this file (a checkout: the dev loop and the
// tests run what is on disk, never a stale build), and otherwise from the JavaScript that `npm run build` put in
// dist/ (the image copies dist/ and no sources, so nothing of Durable is transpiled at start).
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';
import process from 'node:process';
import { URL } from 'node:url';
import { register } from 'tsx/esm/api';

const root = new URL('../', import.meta.url);
const entries = existsSync(new URL('src/index.ts', root))
  ? { index: 'src/index.ts', cli: 'src/cli/main.ts', worker: 'worker/main.ts', operator: 'operator/main.ts' }
  : {
      index: 'dist/src/index.js',
      cli: 'dist/src/cli/main.js',
      worker: 'dist/worker/main.js',
      operator: 'dist/operator/main.js',
    };

register();
// An app's `import … from 'durable'` gets this very copy of Durable (the one whose CLI, worker or operator runs),
// not another install: one module instance, so the app's error classes are the runtime's. Registered after tsx, so
// it runs first and tsx loads what it resolves to.
registerHooks('./resolve-self.mjs', import.meta.url, {
  data: { target: new URL(entries.index, root).href },
});
const command = process.argv[2];
await import(new URL(command === 'worker' || command === 'operator' ? entries[command] : entries.cli, root).href);
