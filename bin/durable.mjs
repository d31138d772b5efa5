#!/usr/bin/env node
// The `durable` command. Apps and Durable itself are TypeScript run directly: tsx compiles on import.
// `durable worker` is the container entry point in worker/ (which uses src/, never the reverse).
import { register as registerHooks } from 'node:module';
import process from 'node:process';
import { URL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
// An app's `import … from 'durable'` gets this very copy of Durable (src/index.ts, which the CLI runs), not the
// built package: one module instance, so the app's error classes are the runtime's. Registered after tsx, so it
// runs first and tsx compiles what it resolves to.
registerHooks('./resolve-self.mjs', import.meta.url, {
  data: { target: new URL('../src/index.ts', import.meta.url).href },
});
if (process.argv[2] === 'worker') await import('../worker/main.ts');
else await import('../src/cli/main.ts');
