import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));

// The project's own configuration, minus the type-aware rules: the layer rule reads import paths only, and a file
// that exists only in memory has no place in the TypeScript project.
const eslint = new ESLint({ cwd: root, overrideConfig: tseslint.configs.disableTypeChecked });

/** The layer-rule messages ESLint reports for `code` placed at `filePath`. */
async function layerErrors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'import-x/no-restricted-paths').map((m) => m.message);
}

describe('the layer rule', function () {
  this.timeout(60_000);

  it('refuses an engine file that imports the runtime', async () => {
    const errors = await layerErrors(
      "import { Worker } from '../runtime/worker.js';\nexport const w = Worker;\n",
      'src/engine/x.ts',
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /src\/engine imports nothing of ours/);
  });

  it('refuses observability importing the backends, and backends importing the configuration', async () => {
    const fromObservability = await layerErrors(
      "import type { Queue } from '../backends/queue.js';\nexport type Q = Queue;\n",
      'src/observability/x.ts',
    );
    assert.equal(fromObservability.length, 1);
    const fromBackends = await layerErrors(
      "import type { DurableConfig } from '../config/config.js';\nexport type C = DurableConfig;\n",
      'src/backends/x.ts',
    );
    assert.match(fromBackends[0] ?? '', /src\/backends may import only src\/engine/);
  });

  it('refuses src importing the worker process or the tests', async () => {
    const errors = await layerErrors(
      "import { startWorkerProcess } from '../../worker/worker-process.js';\nexport const s = startWorkerProcess;\n",
      'src/host/x.ts',
    );
    assert.match(errors[0] ?? '', /src\/ never imports/);
  });

  it('refuses the lint rules importing the engine: durable/eslint loads inside ESLint, without Durable', async () => {
    const errors = await layerErrors(
      "import { defineApp } from '../engine/app.js';\nexport const d = defineApp;\n",
      'src/eslint/x.ts',
    );
    assert.match(errors[0] ?? '', /src\/eslint imports nothing of ours/);
  });

  it('lets a layer import the layers below it', async () => {
    const errors = await layerErrors(
      "import { Worker } from '../runtime/worker.js';\nimport type { Queue } from '../backends/queue.js';\n" +
        'export const w = Worker;\nexport type Q = Queue;\n',
      'src/host/x.ts',
    );
    assert.deepEqual(errors, []);
  });
});

describe('the engine’s determinism rule', function () {
  this.timeout(60_000);

  it('refuses the wall clock and randomness in the engine, and allows a Date built from an event time', async () => {
    const code =
      'export const a = new Date();\nexport const b = Date.now();\nexport const c = Math.random();\n' +
      'export const d = new Date(0);\n';
    const [result] = await eslint.lintText(code, { filePath: 'src/engine/x.ts' });
    const lines = (result?.messages ?? [])
      .filter((m) => m.ruleId === 'no-restricted-syntax' || m.ruleId === 'no-restricted-properties')
      .map((m) => m.line);
    assert.deepEqual(lines, [1, 2, 3]);
  });
});
