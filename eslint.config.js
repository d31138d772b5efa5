// Typed lint: the rules here catch the mistakes that matter in a durable engine
// (a floating promise is a lost message) and keep the import graph acyclic.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.durable/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
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
    // The engine is pure: no I/O, no clock, no node built-ins.
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', '../*'] }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'The engine is deterministic: use the turn time.' },
        { object: 'Math', property: 'random', message: 'The engine is deterministic: use ctx.random().' },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'eslint.config.js'],
    // Activities are written `async` whether or not they await, as users write them.
    rules: { 'no-console': 'off', '@typescript-eslint/require-await': 'off' },
  },
  { files: ['eslint.config.js', 'bin/*.mjs', '.mocharc.cjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['.mocharc.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
