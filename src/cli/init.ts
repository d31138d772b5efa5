/**
 * `durable init <dir>`: scaffolds a project whose `npm install && npm start` runs an app under `durable dev` and
 * whose `npm test` runs a test on `TestEnvironment`, with nothing to configure. The files are written only into a
 * directory that is missing or empty, so nothing of the user's is ever overwritten.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from '../host/cli-error.js';

interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

/** This copy of Durable: its directory and package.json (found upwards from this file, in src/ or dist/src/). */
function ownPackage(): { dir: string; json: PackageJson } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const json = JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
      if (json.name === 'durable') return { dir, json };
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('durable init: cannot find Durable’s own package.json');
    dir = parent;
  }
}

/**
 * The dependency spec for Durable in the new project: the one this copy was installed with. The name `durable` on
 * the npm registry is another package, so a bare version range would install the wrong thing: a project that
 * installed Durable from a tarball (`npm install ./durable-0.1.0.tgz`, or `npx --package ./durable-0.1.0.tgz`) gets
 * the same tarball, its `file:` path rewritten relative to the new directory. Run from a checkout, the checkout.
 */
export function durableSpec(target: string): string {
  const own = ownPackage();
  const project = basename(dirname(own.dir)) === 'node_modules' ? dirname(dirname(own.dir)) : undefined;
  const manifest = project ? join(project, 'package.json') : undefined;
  if (project && manifest && existsSync(manifest)) {
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as PackageJson;
    const spec = json.dependencies?.durable ?? json.devDependencies?.durable;
    if (spec?.startsWith('file:')) return fileSpec(target, resolve(project, spec.slice('file:'.length)));
    if (spec) return spec;
  }
  return fileSpec(target, own.dir);
}

function fileSpec(target: string, path: string): string {
  const rel = relative(target, path);
  return `file:${isAbsolute(rel) ? rel : rel.startsWith('.') ? rel : `./${rel}`}`.replace(/\\/g, '/');
}

/** A valid npm package name from a directory name. */
function packageName(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+/, '');
  return name || 'durable-app';
}

/** Durable's rules for orchestration code (durable/eslint) on the project's TypeScript. */
const ESLINT_CONFIG = `import durable from 'durable/eslint';
import tseslint from 'typescript-eslint';

export default [
  { ignores: ['node_modules/', '.durable/'] },
  { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
  { files: ['**/*.ts'], ...durable.configs.recommended },
];
`;

/** The files of a new project, by path relative to it. */
export function scaffold(name: string, durable: string, tsx: string): Record<string, string> {
  const packageJson = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      start: 'durable dev app.ts',
      test: 'node --import tsx --test app.test.ts',
      typecheck: 'tsc --noEmit',
      lint: 'eslint .',
    },
    dependencies: { durable },
    devDependencies: {
      '@types/node': '^20.19.0',
      eslint: '^9.0.0',
      tsx,
      typescript: '^5.9.0',
      'typescript-eslint': '^8.0.0',
    },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      strict: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ['*.ts'],
  };
  return {
    'package.json': `${JSON.stringify(packageJson, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(tsconfig, null, 2)}\n`,
    '.gitignore': 'node_modules/\n.durable/\n',
    'eslint.config.js': ESLINT_CONFIG,
    'app.ts': APP,
    'app.test.ts': TEST,
    'README.md': readme(name),
  };
}

const APP = `import type { EntityContext } from 'durable';
import { defineApp } from 'durable';

// Activities do the side effects (HTTP calls, e-mails, database writes). They run at least once: a worker that
// dies mid-activity is replaced and the activity runs again.
const activities = {
  async greet(name: string) {
    return \`Hello, \${name}!\`;
  },
};

// An entity: keyed state (\`visits@Ada\`) whose operations run one at a time.
const visits = {
  initial: () => 0,
  add(ctx: EntityContext<number>, n: number) {
    const next = ctx.state + n;
    ctx.setState(next);
    return next;
  },
  get: (ctx: EntityContext<number>) => ctx.state,
};

export default defineApp({
  activities,
  entities: { visits },
  orchestrations: {
    // Orchestrations are replayed from their history: only durable calls (ctx.*), no Date.now() or Math.random().
    async welcome(ctx, name: string) {
      const greeting = await ctx.callActivity('greet', name);
      const count = (await ctx.callEntity(\`visits@\${name}\`, 'add', 1)) as number;
      return \`\${greeting} Visit number \${count}.\`;
    },
  },
});
`;

const TEST = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestEnvironment } from 'durable';
import app from './app.js';

test('welcome greets and counts the visits of each name', async () => {
  const env = TestEnvironment.start(app);
  try {
    const first = await env.waitForCompletion(await env.client.start('welcome', 'Ada'));
    assert.equal(first.status, 'Completed');
    assert.equal(first.output, 'Hello, Ada! Visit number 1.');
    const second = await env.waitForCompletion(await env.client.start('welcome', 'Ada'));
    assert.equal(second.output, 'Hello, Ada! Visit number 2.');
    assert.equal((await env.client.readEntityState<number>('visits@Ada'))?.state, 2);
  } finally {
    await env.close();
  }
});
`;

function readme(name: string): string {
  return `# ${name}

A Durable app: \`app.ts\` has one orchestration (\`welcome\`), one activity (\`greet\`) and
one entity (\`visits\`).

\`\`\`sh
npm start            # durable dev app.ts: the app on SQLite (.durable/), the HTTP API on http://127.0.0.1:8080
npx durable start welcome '"Ada"' --id w1 && npx durable status w1 --wait   # in another terminal
npm test             # app.test.ts on TestEnvironment (in memory, time skipped)
npm run typecheck
\`\`\`
`;
}

/** `durable init <dir>`: writes the project, then says what to run. */
export function init(args: readonly string[], out: (text: string) => void): void {
  const [dir, ...rest] = args;
  if (!dir || rest.length > 0) throw new CliError('Usage: durable init <directory>', 'USAGE');
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new CliError(`${dir} is not empty: durable init writes only into a new or empty directory.`, 'USAGE');
  }
  const own = ownPackage().json;
  const files = scaffold(packageName(target), durableSpec(target), own.dependencies?.tsx ?? '^4.0.0');
  mkdirSync(target, { recursive: true });
  for (const [path, text] of Object.entries(files)) writeFileSync(join(target, path), text);
  out(
    [
      `Created ${dir}: ${Object.keys(files).join(', ')}`,
      '',
      `  cd ${dir}`,
      '  npm install',
      '  npm start     # durable dev app.ts, the HTTP API on http://127.0.0.1:8080',
      '  npm test      # app.test.ts on TestEnvironment',
      "  npm run lint  # durable/eslint: what breaks an orchestration's replay",
    ].join('\n'),
  );
}
