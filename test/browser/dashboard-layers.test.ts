/**
 * The dashboard's place in the layers: it takes only types from the server code (its bundle must carry none of it),
 * no Node built-ins, and nothing on the server imports it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root, overrideConfig: tseslint.configs.disableTypeChecked });

async function errors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((m) => /no-restricted-(imports|paths)/.test(m.ruleId ?? ''))
    .map((m) => m.message);
}

describe('the dashboard layer rules', function () {
  this.timeout(60_000);

  it('refuses a value import from the server code and a Node built-in, and allows types and its own modules', async () => {
    const value = await errors(
      "import { STEP_OPENING_EVENTS } from '../engine/history.js';\nexport const s = STEP_OPENING_EVENTS;\n",
      'src/dashboard/x.ts',
    );
    assert.match(value[0] ?? '', /only types from the server code/);
    const node = await errors(
      "import { readFile } from 'node:fs';\nexport const r = readFile;\n",
      'src/dashboard/x.ts',
    );
    assert.match(node[0] ?? '', /no Node built-ins/);
    const fine = await errors(
      "import type { HistoryEvent } from '../engine/history.js';\nimport { session } from './api.js';\nexport type E = HistoryEvent;\nexport const s = session;\n",
      'src/dashboard/x.ts',
    );
    assert.deepEqual(fine, []);
  });

  it('refuses the server importing the dashboard', async () => {
    const found = await errors(
      "import { buildTimeline } from '../dashboard/timeline.js';\nexport const b = buildTimeline;\n",
      'src/http/x.ts',
    );
    assert.ok(
      found.some((m) => /never imports the dashboard/.test(m)),
      found.join('\n'),
    );
  });
});
