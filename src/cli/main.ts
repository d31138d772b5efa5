/**
 * `durable`: one command, with subcommands (their usage, options and environment variables are in `help.ts`).
 * `dev` runs Durable; most others talk to a running one over HTTP (`--url`, default http://127.0.0.1:8080 or
 * DURABLE_URL; `--token` or DURABLE_TOKEN; `--timeout`). Human-readable output by default, `--json` for scripts.
 * Errors print one line and exit 1; usage errors exit 2.
 *
 * Start-up time matters: the HTTP commands load only this file, `help.ts`, `commands.ts` and what they import (no
 * Fastify, SQLite or backends); `dev` and `migrate` load theirs with dynamic imports, when they run.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CliError } from '../host/cli-error.js';
import { ApiClient } from './api-client.js';
import { commands } from './commands.js';
import type { CommandHelp, OptionHelp } from './help.js';
import { COMMANDS, DEFAULT_TIMEOUT_MS, commandHelp, optionsOf, overview } from './help.js';

/** Every option any command declares: parsing is strict, so a flag no command knows is a usage error. */
function allOptions(): Record<string, OptionHelp> {
  const all: Record<string, OptionHelp> = {};
  for (const command of Object.values(COMMANDS)) Object.assign(all, optionsOf(command));
  return all;
}

/** Durable's version, from the package.json above this file (src/cli/ in a checkout, dist/src/cli/ when built). */
function version(): string {
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'durable' && pkg.version) return pkg.version;
    } catch {
      // not this one
    }
  }
  return 'unknown';
}

interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

function parse(argv: readonly string[]): Parsed {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: allOptions() });
  } catch (error) {
    // parseArgs' own messages name the flag ("Unknown option '--frobnicate'"); they are usage errors.
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '.');
    throw new CliError(`${message} Run durable --help.`, 'USAGE');
  }
}

/** Refuses options the command does not take, naming the commands that do. */
function checkOptions(name: string, command: CommandHelp, given: readonly string[]): void {
  const accepted = optionsOf(command);
  for (const option of given) {
    if (option in accepted) continue;
    const owners = Object.entries(COMMANDS)
      .filter(([, c]) => option in optionsOf(c))
      .map(([n]) => n);
    throw new CliError(
      `durable ${name} does not take --${option} (${owners.join(', ')} ${owners.length === 1 ? 'does' : 'do'}). Run durable ${name} --help.`,
      'USAGE',
    );
  }
}

function timeoutOf(value: string | boolean | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  const ms = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(ms) || ms <= 0) {
    throw new CliError(`--timeout takes a number of milliseconds greater than 0 (got ${String(value)}).`, 'USAGE');
  }
  return ms;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [name, ...args] = positionals;
  const out = (text: string): void => void process.stdout.write(`${text}\n`);
  if (values.version === true) {
    out(version());
    return 0;
  }
  if (!name) {
    out(overview());
    return values.help === true ? 0 : 2;
  }
  const spec = COMMANDS[name];
  if (!spec || name === 'worker') throw new CliError(`Unknown command '${name}'. Run durable --help.`, 'USAGE');
  if (values.help === true) {
    out(commandHelp(name));
    return 0;
  }
  checkOptions(
    name,
    spec,
    Object.keys(values).filter((key) => values[key] !== undefined),
  );
  const flags = values;
  if (name === 'dev') {
    const { dev } = await import('./dev.js');
    await dev(args, flags, out);
    return -1; // keeps running
  }
  if (name === 'init') {
    const { init } = await import('./init.js');
    init(args, out);
    return 0;
  }
  if (name === 'token') {
    const { token } = await import('./token.js');
    token(args, flags, out);
    return 0;
  }
  if (name === 'migrate') {
    if (args.length > 0) throw new CliError('migrate takes no arguments: it reads the DURABLE_* variables.', 'USAGE');
    const { migrate } = await import('./migrate.js');
    const result = await migrate(process.env);
    out(values.json === true ? JSON.stringify(result) : result.summary);
    return 0;
  }
  const run = commands[name];
  if (!run) throw new CliError(`Unknown command '${name}'. Run durable --help.`, 'USAGE');
  // An empty variable (`DURABLE_URL= durable …`) counts as unset.
  const token = typeof values.token === 'string' ? values.token : process.env.DURABLE_TOKEN || undefined;
  const api = new ApiClient({
    url: typeof values.url === 'string' ? values.url : process.env.DURABLE_URL || 'http://127.0.0.1:8080',
    timeoutMs: timeoutOf(values.timeout),
    ...(token ? { token } : {}),
  });
  const tty = process.stderr.isTTY;
  const code = await run(
    {
      api,
      json: values.json === true,
      out,
      progress: (text) => {
        if (tty) process.stderr.write(`\r\x1b[2K${text}`);
      },
      now: () => Date.now(),
    },
    args,
    flags,
  );
  return code ?? 0;
}

// `status --wait` without a value: parseArgs needs a string, so `--wait` alone means no time limit.
const argv = process.argv.slice(2).map((a) => (a === '--wait' ? '--wait=Infinity' : a));
try {
  const code = await main(argv);
  if (code >= 0) process.exitCode = code;
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`durable: ${message}\n`);
  process.exitCode = error instanceof CliError && error.code === 'USAGE' ? 2 : 1;
}
