/**
 * `durable`: one command, with subcommands. `dev` runs Durable; the others talk to a running one over HTTP
 * (`--url`, default http://127.0.0.1:8080 or DURABLE_URL; `--token` or DURABLE_TOKEN). Human-readable output
 * by default, `--json` for scripts. Errors print one line and exit non-zero.
 */
import { parseArgs } from 'node:util';
import { CliError } from '../host/cli-error.js';
import { ApiClient } from './api-client.js';
import type { Flags } from './commands.js';
import { commands } from './commands.js';
import { dev } from './dev.js';
import { init } from './init.js';
import { migrate } from './migrate.js';

const USAGE = `Usage: durable <command> [arguments] [--url URL] [--token TOKEN] [--json]

  init <dir>                        scaffold a project: an app, a test on TestEnvironment, npm start and npm test
  dev <app>                         run an app on embedded SQLite with the HTTP API (--port, --host, --data-dir, --watch)
  worker <app>                      the container entry point: run work from the configured backends (worker --help)
  migrate                           create the configured store's tables and indexes (or SQLite schema), then exit
  start <name> [input-json]         start an orchestration (--id, --reuse allow-terminal|allow-failed|reject)
  status <id> [--wait[=ms]]         show an instance; --wait follows it to the end
  list                              list instances (--status, --name, --limit, --cursor)
  history <id>                      show an instance's history
  raise <id> <event> [data-json]    raise an event (--event-id for exactly-once)
  terminate|suspend|resume <id> [reason]
  purge <id>                        delete a finished instance
  dead-letters                      list dead-lettered messages (--queue orchestrations|activities)
  kick <message-id ...> | --all     redrive dead letters: deliver them again as fresh messages (--queue)
  discard <message-id ...> | --all  delete dead letters for good (--queue)
  signal <name@key> <op> [input]    signal an entity (--at ISO time)
  entity get <name@key>             read an entity's state
  entity list                       list entities (--name)`;

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      wait: { type: 'string' },
      id: { type: 'string' },
      reuse: { type: 'string' },
      status: { type: 'string' },
      name: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      'event-id': { type: 'string' },
      at: { type: 'string' },
      queue: { type: 'string' },
      all: { type: 'boolean' },
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      watch: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
  });
  const [command, ...args] = positionals;
  const out = (text: string): void => void process.stdout.write(`${text}\n`);
  if (!command || values.help) {
    out(USAGE);
    return command || values.help ? 0 : 2;
  }
  const flags: Flags = values;
  if (command === 'dev') {
    await dev(args, flags, out);
    return -1; // keeps running
  }
  if (command === 'init') {
    init(args, out);
    return 0;
  }
  if (command === 'migrate') {
    if (args.length > 0) throw new CliError('migrate takes no arguments: it reads the DURABLE_* variables.', 'USAGE');
    const result = await migrate(process.env);
    out(values.json === true ? JSON.stringify(result) : result.summary);
    return 0;
  }
  const run = commands[command];
  if (!run) throw new CliError(`Unknown command '${command}'. Run durable --help.`, 'USAGE');
  const api = new ApiClient({
    url: values.url ?? process.env.DURABLE_URL ?? 'http://127.0.0.1:8080',
    ...((values.token ?? process.env.DURABLE_TOKEN) ? { token: values.token ?? process.env.DURABLE_TOKEN } : {}),
  });
  const tty = process.stderr.isTTY;
  await run(
    {
      api,
      json: values.json === true,
      out,
      progress: (text) => {
        if (tty) process.stderr.write(`\r\x1b[2K${text}`);
      },
    },
    args,
    flags,
  );
  return 0;
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
