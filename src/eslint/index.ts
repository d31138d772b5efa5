/**
 * `durable/eslint`: lint rules that keep orchestration code deterministic, for ESLint 9 flat configs. The rules
 * know which functions are orchestrations (those under `orchestrations` in `defineApp(…)`, inline or named and
 * declared in the same file) and flag, inside them only, what would make a replay take another path than the
 * first run: the wall clock and randomness, timers and I/O, `process.env`, awaiting promises that are not durable
 * tasks, and writes to module-level state. Each message names the `ctx` replacement.
 *
 * The rules need no type information: they work with the default parser and with typescript-eslint's.
 * @example
 * // eslint.config.js
 * import durable from 'durable/eslint';
 * import tseslint from 'typescript-eslint';
 *
 * export default [
 *   ...tseslint.configs.recommended,
 *   durable.configs.recommended,
 * ];
 */
import type { ESLint, Linter, Rule } from 'eslint';
import { noIoInOrchestrations } from './rules/no-io-in-orchestrations.js';
import { noModuleStateWrites } from './rules/no-module-state-writes.js';
import { noNonDurableAwait } from './rules/no-non-durable-await.js';
import { noNondeterministicCalls } from './rules/no-nondeterministic-calls.js';
import { noProcessEnv } from './rules/no-process-env.js';

/** The rules, by name (use them as `durable/<name>`). */
export const rules = {
  'no-nondeterministic-calls': noNondeterministicCalls,
  'no-io-in-orchestrations': noIoInOrchestrations,
  'no-process-env': noProcessEnv,
  'no-non-durable-await': noNonDurableAwait,
  'no-module-state-writes': noModuleStateWrites,
} satisfies Record<string, Rule.RuleModule>;

export type DurableRuleName = `durable/${keyof typeof rules}`;

/** The plugin: its rules and a `recommended` flat config that turns every rule on as an error. */
export interface DurablePlugin extends ESLint.Plugin {
  readonly meta: { readonly name: string; readonly namespace: string };
  readonly rules: typeof rules;
  readonly configs: { readonly recommended: Linter.Config };
}

const recommendedRules: Record<DurableRuleName, Linter.RuleEntry> = {
  'durable/no-nondeterministic-calls': 'error',
  'durable/no-io-in-orchestrations': 'error',
  'durable/no-process-env': 'error',
  'durable/no-non-durable-await': 'error',
  'durable/no-module-state-writes': 'error',
};

const configs: { recommended: Linter.Config } = {
  recommended: { name: 'durable/recommended', rules: recommendedRules },
};

/**
 * The plugin. `durable.configs.recommended` registers it under the `durable` prefix and turns on every rule; add
 * `files` to limit it (`{ files: ['src/**\/*.ts'], ...durable.configs.recommended }`).
 * @example
 * import durable from 'durable/eslint';
 * export default [durable.configs.recommended];
 */
const plugin: DurablePlugin = { meta: { name: 'durable/eslint', namespace: 'durable' }, rules, configs };
configs.recommended.plugins = { durable: plugin };

export default plugin;
