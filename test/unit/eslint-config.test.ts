import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import durable from '../../src/eslint/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = 'test/fixtures/orchestration-mistakes.ts';

/** ESLint as an app's config sets it up: typescript-eslint's parser (no type information) and the recommended rules. */
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, durable.configs.recommended],
});

/** `line rule` for every message of the file (sorted), from ESLint or from the fixture's `// expect:` comments. */
async function reported(file: string): Promise<{ found: string[]; messages: string[] }> {
  const [result] = await eslint.lintFiles([file]);
  const messages = result?.messages ?? [];
  return { found: messages.map((m) => `${m.line} ${m.ruleId}`).sort(), messages: messages.map((m) => m.message) };
}

function expected(file: string): string[] {
  return readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      const rules = /\/\/ expect: (durable\/[\w-]+(?:, durable\/[\w-]+)*)$/.exec(line)?.[1];
      return rules ? rules.split(', ').map((rule) => `${i + 1} ${rule}`) : [];
    })
    .sort();
}

describe('durable/eslint’s recommended config', function () {
  this.timeout(30_000);

  it('finds nothing to report in the examples app', async () => {
    const { found } = await reported('examples/app.ts');
    assert.deepEqual(found, []);
  });

  it('reports every mistake of the issue’s list in the fixture, and nothing else', async () => {
    const want = expected(FIXTURE);
    assert.ok(want.length >= 17, `the fixture lost its expectations (${want.length})`);
    const { found, messages } = await reported(FIXTURE);
    assert.deepEqual(found, want);
    // Each message names what to use instead, on the orchestration context.
    for (const message of messages) assert.match(message, /ctx\.\w+/, message);
  });

  it('is a flat config that registers the plugin under the durable prefix and turns every rule on', () => {
    const config = durable.configs.recommended;
    assert.equal(config.plugins?.durable, durable);
    assert.deepEqual(
      Object.keys(config.rules ?? {}).sort(),
      Object.keys(durable.rules)
        .map((name) => `durable/${name}`)
        .sort(),
    );
  });
});
