/**
 * Every `durable` command as data: its usage line, what it does, its options and the environment variables it
 * reads. `main.ts` parses arguments with these options (a flag no command declares is a usage error, exit 2; a flag
 * another command declares is refused with the command it belongs to), and `durable --help` and
 * `durable <command> --help` print them. No imports: loading this costs nothing at start.
 */

export interface OptionHelp {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's placeholder in help, e.g. `ms` for `--timeout <ms>`. */
  readonly value?: string;
  readonly help: string;
}

export interface CommandHelp {
  /** Arguments after the command name, e.g. `<name> [input-json]`. */
  readonly args: string;
  /** One line for `durable --help`. */
  readonly summary: string;
  /** More lines for `durable <command> --help`. */
  readonly details?: readonly string[];
  readonly options: Readonly<Record<string, OptionHelp>>;
  /** Whether the command talks to a running Durable over HTTP (it then takes the HTTP options). */
  readonly http: boolean;
  /** Environment variables the command reads, with what they mean. */
  readonly env?: Readonly<Record<string, string>>;
  /** Example command lines. */
  readonly examples?: readonly string[];
}

/** Default time the CLI waits for the server to answer a request, in ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Options every command takes. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionHelp>> = {
  help: { type: 'boolean', short: 'h', help: 'show help (for a command: durable <command> --help)' },
  version: { type: 'boolean', help: "print Durable's version" },
};

/** Options of every command that talks to a running Durable. */
export const HTTP_OPTIONS: Readonly<Record<string, OptionHelp>> = {
  url: { type: 'string', value: 'url', help: 'the Durable HTTP API (default http://127.0.0.1:8080)' },
  token: { type: 'string', value: 'token', help: 'bearer token, when the server requires one' },
  json: { type: 'boolean', help: 'print JSON (for scripts) instead of tables' },
  timeout: {
    type: 'string',
    value: 'ms',
    help: `give up on a server that does not answer within this time (default ${DEFAULT_TIMEOUT_MS})`,
  },
};

/** The environment variables of every HTTP command. */
export const HTTP_ENV: Readonly<Record<string, string>> = {
  DURABLE_URL: 'the API URL when --url is not given',
  DURABLE_TOKEN: 'the bearer token when --token is not given',
};

const instanceArg = (action: string): CommandHelp => ({
  args: '<id> [reason]',
  summary: `${action} an instance (the reason is recorded in its history)`,
  options: {},
  http: true,
});

/** The commands, in the order `durable --help` lists them. `worker` and `operator` are handled by bin/durable.mjs. */
export const COMMANDS: Readonly<Record<string, CommandHelp>> = {
  init: {
    args: '<dir>',
    summary: 'scaffold a project: an app, a test on TestEnvironment, lint rules, npm start and npm test',
    details: ['Writes only into a new or empty directory; then: cd <dir> && npm install && npm start.'],
    options: {},
    http: false,
    examples: ['durable init my-app'],
  },
  dev: {
    args: '<app>',
    summary: 'run an app on embedded SQLite with the HTTP API',
    details: [
      'Loads the app module (TypeScript or JavaScript, no build step), runs orchestrations, activities and entities',
      'in this process on SQLite in the data directory, and serves the HTTP API. Ctrl-C drains and stops',
      '(running turns and activities finish, within DURABLE_DRAIN_TIMEOUT_MS); a second Ctrl-C stops at once.',
    ],
    options: {
      port: { type: 'string', value: 'port', help: 'port of the HTTP API (default 8080; 0 picks a free one)' },
      host: { type: 'string', value: 'host', help: 'address to listen on (default 127.0.0.1)' },
      'data-dir': { type: 'string', value: 'dir', help: 'where the SQLite file lives (default .durable)' },
      'tokens-file': {
        type: 'string',
        value: 'file',
        help: 'scoped tokens: a JSON array of { name, scopes, sha256 } (durable token create makes entries)',
      },
      watch: { type: 'boolean', help: 'restart when a file next to the app changes' },
      quiet: { type: 'boolean', short: 'q', help: 'no line per start, completion, failure, retry or dead letter' },
    },
    http: false,
    env: {
      DURABLE_PORT: 'the port when --port is not given',
      DURABLE_HOST: 'the host when --host is not given',
      DURABLE_DATA_DIR: 'the data directory when --data-dir is not given',
      DURABLE_SQLITE_PATH: 'the SQLite file itself (overrides the data directory)',
      DURABLE_TOKEN: 'an admin token (16+ characters); once any token is set, every request needs one',
      DURABLE_TOKENS_FILE: 'the scoped tokens file when --tokens-file is not given',
      DURABLE_ALLOWED_HOSTS:
        'host names (comma-separated) accepted besides localhost on loopback (DNS-rebinding check)',
      DURABLE_DRAIN_TIMEOUT_MS: 'how long Ctrl-C waits for running work before exiting 1 (default 30000)',
    },
    examples: ['durable dev examples/app.ts', 'durable dev src/app.ts --watch --port 3000'],
  },
  token: {
    args: 'create',
    summary: 'make a new API token: prints it once, and the entry for the tokens file',
    details: [
      'The tokens file (DURABLE_TOKENS_FILE, durable dev --tokens-file) holds only the SHA-256 of each token: keep',
      'the printed token in your secret store; it cannot be shown again.',
    ],
    options: {
      name: { type: 'string', value: 'name', help: 'who holds the token (letters, digits, . _ -), e.g. ci' },
      scopes: { type: 'string', value: 'list', help: 'comma-separated: read, write, admin (default read)' },
    },
    http: false,
    examples: ['durable token create --name ci --scopes read,write', 'durable token create --name dashboard'],
  },
  worker: {
    args: '<app>',
    summary: 'the container entry point: run an app on the configured backends',
    options: {},
    http: false,
  },
  migrate: {
    args: '',
    summary: 'prepare the configured store (tables, indexes or SQLite schema), then exit',
    details: ['Reads the same DURABLE_* variables as `durable worker` (durable worker --help lists them all).'],
    options: { json: { type: 'boolean', help: 'print JSON instead of one line' } },
    http: false,
    env: {
      DURABLE_BACKEND: 'sqlite (default), memory or rethinkdb',
      DURABLE_SQLITE_PATH: 'the SQLite file',
      DURABLE_STORE_URL: 'the RethinkDB store, e.g. rethinkdb://host:28015/durable',
      DURABLE_LOCK: 'the lock backend',
    },
  },
  start: {
    args: '<name> [input-json]',
    summary: 'start an orchestration and print its instance id',
    details: ['The input is one JSON value: \'"Tokyo"\', \'42\', \'["Tokyo","Oslo"]\' or \'{"a":1}\'.'],
    options: {
      id: { type: 'string', value: 'id', help: 'the instance id (default: a new UUID)' },
      reuse: {
        type: 'string',
        value: 'policy',
        help: 'when the id exists: allow-terminal (default), allow-failed or reject',
      },
    },
    http: true,
    examples: [`durable start helloSequence '["Tokyo","Oslo"]' --id hello-1`],
  },
  status: {
    args: '<id>',
    summary: 'show an instance, and what it is waiting for while it runs',
    details: [
      'Exit status with --wait: 0 when the instance completed, 1 when it failed or was terminated (and 0 when the',
      'wait runs out first: the status printed says where it is).',
    ],
    options: {
      wait: {
        type: 'string',
        value: 'ms',
        help: 'follow the instance until it ends (--wait alone: no time limit; --wait=60000: at most a minute)',
      },
    },
    http: true,
    examples: ['durable status hello-1', 'durable status hello-1 --wait && echo done'],
  },
  list: {
    args: '',
    summary: 'list instances, newest first (stuck ones show as stuck)',
    options: {
      status: {
        type: 'string',
        value: 'status',
        help: 'only these statuses, comma-separated, any case: pending, running, suspended, completed, failed, terminated, continuedAsNew; or stuck',
      },
      stuck: { type: 'boolean', help: 'only instances that cannot make progress (their code no longer matches)' },
      name: { type: 'string', value: 'name', help: 'only this orchestration' },
      limit: { type: 'string', value: 'n', help: 'at most n instances (default 50, at most 1000)' },
      cursor: { type: 'string', value: 'cursor', help: 'the next page, as the previous page printed it' },
    },
    http: true,
    examples: ['durable list --status running', 'durable list --stuck'],
  },
  history: {
    args: '<id>',
    summary: "show an instance's history as a timeline",
    details: [
      'Columns: the time since the start and the ISO time of each event, the step number (SEQ), what happened and,',
      'on events that end a step (an activity, a timer, an entity call…), how long the step took.',
    ],
    options: {},
    http: true,
  },
  raise: {
    args: '<id> <event> [data-json]',
    summary: 'raise an event on an instance',
    options: { 'event-id': { type: 'string', value: 'id', help: 'deduplication key: the same id delivers once' } },
    http: true,
    examples: [`durable raise order-1 approval '{"approved":true}'`],
  },
  terminate: instanceArg('terminate'),
  suspend: instanceArg('suspend'),
  resume: instanceArg('resume'),
  restart: {
    args: '<id>',
    summary: 'start an instance again with its input (same id once finished, or --new-id)',
    details: [
      'Without --new-id the instance must be finished (completed, failed or terminated): it runs again under its id,',
      'as its next generation. With --new-id a copy starts under a new random id, at any time.',
    ],
    options: { 'new-id': { type: 'boolean', help: 'start under a new random id (the old instance is left as it is)' } },
    http: true,
    examples: ['durable restart order-1', 'durable restart order-1 --new-id'],
  },
  purge: { args: '<id>', summary: 'delete a finished instance and its history', options: {}, http: true },
  'dead-letters': {
    args: '',
    summary: 'list messages workers gave up on',
    options: { queue: { type: 'string', value: 'queue', help: 'orchestrations or activities (default both)' } },
    http: true,
  },
  kick: {
    args: '<message-id ...> | --all',
    summary: 'redrive dead letters: deliver them again as fresh messages',
    options: {
      all: { type: 'boolean', help: 'every dead letter (of --queue)' },
      queue: { type: 'string', value: 'queue', help: 'orchestrations or activities (default both)' },
    },
    http: true,
  },
  discard: {
    args: '<message-id ...> | --all',
    summary: 'delete dead letters for good',
    options: {
      all: { type: 'boolean', help: 'every dead letter (of --queue)' },
      queue: { type: 'string', value: 'queue', help: 'orchestrations or activities (default both)' },
    },
    http: true,
  },
  signal: {
    args: '<name@key> <operation> [input-json]',
    summary: 'signal an entity',
    options: { at: { type: 'string', value: 'time', help: 'deliver at this ISO time instead of now' } },
    http: true,
    examples: ['durable signal counter@home add 1'],
  },
  entity: {
    args: 'get <name@key> | list',
    summary: "read an entity's state, or list entities (sorted by id)",
    options: {
      name: { type: 'string', value: 'name', help: 'list: only entities of this name' },
      limit: { type: 'string', value: 'n', help: 'list: at most n entities (default 50)' },
      cursor: { type: 'string', value: 'cursor', help: 'list: the next page' },
    },
    http: true,
    examples: ['durable entity get counter@home', 'durable entity list --name counter'],
  },
};

/** The options a command accepts: its own, the HTTP ones if it talks HTTP, and the global ones. */
export function optionsOf(command: CommandHelp): Readonly<Record<string, OptionHelp>> {
  return { ...command.options, ...(command.http ? HTTP_OPTIONS : {}), ...GLOBAL_OPTIONS };
}

function optionLines(options: Readonly<Record<string, OptionHelp>>): string[] {
  const rows = Object.entries(options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` <${o.value}>` : ''}`,
    o.help,
  ]);
  const width = Math.max(0, ...rows.map(([left]) => (left ?? '').length));
  return rows.map(([left, right]) => `  ${(left ?? '').padEnd(width)}  ${right ?? ''}`);
}

function envLines(env: Readonly<Record<string, string>>): string[] {
  const width = Math.max(0, ...Object.keys(env).map((k) => k.length));
  return Object.entries(env).map(([name, text]) => `  ${name.padEnd(width)}  ${text}`);
}

/** `durable --help`: every command in one line each. */
export function overview(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => [`${name}${c.args ? ` ${c.args}` : ''}`, c.summary]);
  const width = Math.max(...rows.map(([left]) => (left ?? '').length));
  return [
    'Usage: durable <command> [arguments] [options]',
    '',
    ...rows.map(([left, right]) => `  ${(left ?? '').padEnd(width)}  ${right ?? ''}`),
    '',
    'Commands that talk to a running Durable take:',
    ...optionLines(HTTP_OPTIONS),
    '',
    'Environment:',
    ...envLines(HTTP_ENV),
    '',
    'durable <command> --help shows a command in full. Exit status: 0 ok, 1 error, 2 usage error.',
  ].join('\n');
}

/** `durable <command> --help`. */
export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  if (!c) return overview();
  const env = { ...(c.http ? HTTP_ENV : {}), ...c.env };
  const summary = `${c.summary.charAt(0).toUpperCase()}${c.summary.slice(1)}.`;
  const lines = [`Usage: durable ${name}${c.args ? ` ${c.args}` : ''} [options]`, '', summary];
  if (c.details) lines.push(...c.details);
  lines.push('', 'Options:', ...optionLines(optionsOf(c)));
  if (Object.keys(env).length > 0) lines.push('', 'Environment:', ...envLines(env));
  if (c.examples) lines.push('', 'Examples:', ...c.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}
