// Mocha adds a config file's `spec` to the files named on the command line, so a fixed `spec` makes
// `npx mocha test/unit/x.test.ts` run the whole suite. The default spec applies only when the command line names
// no test file: `npx mocha` runs everything, `npx mocha <file or glob>...` runs just those.
'use strict';

const { types, aliases } = require('mocha/lib/cli/run-option-metadata.cjs');

/** Mocha options that take the next argument as their value (`--grep x`, `-t 5000`). */
const takesValue = new Set(
  [...types.string, ...types.array, ...types.number].flatMap((name) => [name, ...(aliases[name] ?? [])]),
);

/** Positional arguments of a mocha command line: the spec files and globs it names. */
function positionals(argv) {
  const found = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return found.concat(argv.slice(i + 1));
    if (!arg.startsWith('-')) {
      found.push(arg);
      continue;
    }
    const name = arg.replace(/^--?/, '');
    if (name.startsWith('spec')) found.push(arg); // `--spec x` names a file too
    if (name.includes('=')) continue;
    if (takesValue.has(name)) i++;
  }
  return found;
}

const named = positionals(process.argv.slice(2));

module.exports = {
  // The examples import Durable by its package name, as a user's app does; the `durable-source` export condition
  // (package.json) resolves it to src/index.ts, the copy the tests import, where the default would be the build.
  'node-option': ['import=tsx', 'conditions=durable-source'],
  ...(named.length === 0 ? { spec: ['test/**/*.test.ts'] } : {}),
  timeout: 20000,
  reporter: 'spec',
  // Exit once every test has ended and the report is written. Twice a full run here stayed idle after its report,
  // kept alive by a ref'd-timer count (`process.getActiveResourcesInfo()` said one 'Timeout') with no live Timeout
  // object on the heap and no open handle: a count a library left behind, not work of ours. A CI run must not wait
  // 90 minutes on that; every test still awaits its own servers' shutdown in its hooks.
  exit: true,
};
