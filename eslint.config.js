// Typed lint: the rules here catch the mistakes that matter in a durable engine
// (a floating promise is a lost message) and keep the import graph acyclic.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import { tsImport } from 'tsx/esm/api';
// The browser globals for the dashboard (`globals` comes with ESLint itself, through @eslint/eslintrc).
import globals from 'globals';

// Durable's own rules for orchestration code (`durable/eslint`), loaded from the sources so that linting needs no
// build; an app imports the same plugin as `import durable from 'durable/eslint'`.
const { default: durable } = await tsImport('./src/eslint/index.ts', import.meta.url);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.durable/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    // ESM TypeScript imports name the compiled `.js`; without the alias the resolver finds no file, and the import-x
    // rules (no-cycle, no-restricted-paths) silently skip every import they cannot resolve.
    settings: {
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
          extensionAlias: { '.js': ['.ts', '.js'] },
        }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'no-console': 'error',
    },
  },
  {
    // The layers of docs/architecture.md ("Layers"): each zone is a layer and what it must not import. Imports
    // flow downward only; a new upward arrow is a lint error, proven by test/unit/layers.test.ts.
    files: ['**/*.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones() }] },
  },
  {
    // The engine is pure: no I/O, no clock, no node built-ins.
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', '../*'] }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'The engine is deterministic: use the turn time.' },
        { object: 'Math', property: 'random', message: 'The engine is deterministic: use ctx.random().' },
        { object: 'performance', property: 'now', message: 'The engine is deterministic: use the turn time.' },
        { object: 'crypto', property: 'randomUUID', message: 'The engine is deterministic: use ctx.newGuid().' },
      ],
      // `new Date(eventTime)` is deterministic; `new Date()` and `Date()` read the wall clock (lib.es has them, so
      // the engine's tsconfig cannot forbid them the way it forbids setTimeout).
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'The engine is deterministic: use the turn time.',
        },
        { selector: "CallExpression[callee.name='Date']", message: 'The engine is deterministic: use the turn time.' },
      ],
    },
  },
  {
    // The dashboard runs in a browser: browser globals, no Node built-ins, and nothing of the server's but types
    // (the bundle must hold none of its code). Layers: it sits beside src/, not on it (docs/architecture.md).
    files: ['src/dashboard/**/*.ts', 'src/dashboard/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'The dashboard runs in a browser: no Node built-ins.' },
            {
              group: ['../../*', '../*', '!../*.js', '!../views/*'],
              allowTypeImports: true,
              message: 'The dashboard imports only types from the server code (import type).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'eslint.config.js'],
    // Activities are written `async` whether or not they await, as users write them.
    rules: { 'no-console': 'off', '@typescript-eslint/require-await': 'off' },
  },
  // The examples are written as users write apps: with the recommended rules for orchestration code.
  { files: ['examples/**/*.ts'], ...durable.configs.recommended },
  { files: ['eslint.config.js', 'bin/*.mjs', 'scripts/*.mjs', '.mocharc.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['scripts/*.mjs'], languageOptions: { globals: { ...globals.node } } },
  {
    files: ['.mocharc.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

/**
 * One zone per layer of src/: `target` may import from src/ only the folders in `may` (and itself). Folders above
 * every layer (host, http, cli, and src/index.ts, the package's public surface) have only the rule that src/
 * never imports the code around it.
 */
function layerZones() {
  const layers = {
    engine: [],
    backends: ['engine'],
    observability: [],
    eslint: [],
    config: ['engine'],
    client: ['engine', 'backends'],
    runtime: ['engine', 'backends', 'observability'],
    testing: ['engine', 'backends', 'observability', 'runtime', 'client'],
    host: ['engine', 'backends', 'observability', 'runtime', 'client', 'config'],
    http: ['engine', 'observability', 'client'],
    cli: ['engine', 'backends', 'observability', 'client', 'config', 'host', 'http'],
  };
  const zones = Object.entries(layers).map(([layer, may]) => ({
    target: `./src/${layer}`,
    from: './src',
    except: [`./${layer}`, ...may.map((folder) => `./${folder}`)],
    message:
      may.length === 0
        ? `src/${layer} imports nothing of ours (docs/architecture.md, Layers).`
        : `src/${layer} may import only ${may.map((f) => `src/${f}`).join(', ')} (docs/architecture.md, Layers).`,
  }));
  zones.push({
    // The server serves the dashboard's files; it never imports its code.
    target: [
      './src/engine',
      './src/backends',
      './src/observability',
      './src/eslint',
      './src/config',
      './src/client',
      './src/runtime',
      './src/testing',
      './src/host',
      './src/http',
      './src/cli',
      './src/index.ts',
    ],
    from: './src/dashboard',
    message: 'The server never imports the dashboard (src/dashboard is bundled for the browser).',
  });
  zones.push({
    target: './src',
    from: ['./worker', './operator', './test', './bench', './examples', './scripts'],
    message: 'src/ never imports the processes, tests, benchmarks or examples built on it.',
  });
  return zones;
}
