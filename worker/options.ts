/**
 * `durable worker` arguments: flags override environment variables, and both go through the one config module.
 */
import { parseArgs } from 'node:util';
import type { DurableConfig, WorkerSettings } from '../src/config/config.js';
import { loadConfig, loadWorkerSettings, parseWorkQueues } from '../src/config/config.js';
import { ValidationError } from '../src/engine/errors.js';
import type { AuthOptions } from '../src/http/auth.js';
import { authRequiredFor } from '../src/http/auth.js';
import { parseAllowedHosts } from '../src/http/request-guards.js';
import { authFromEnvironment } from '../src/http/token-file.js';

export const WORKER_USAGE = `Usage: durable worker <app module> [options]   (every option also has an environment variable)

  --backend sqlite|memory          DURABLE_BACKEND
  --sqlite-path FILE               DURABLE_SQLITE_PATH (default .durable/durable.db)
  --queue-url beanstalkd://H:P     DURABLE_QUEUE_URL (the queue on Beanstalkd; DURABLE_NAMESPACE prefixes its tubes)
  --durability full|normal         DURABLE_DURABILITY
  --lock memory|sqlite             DURABLE_LOCK (sqlite: several workers share one SQLite file)
  --concurrency N                  DURABLE_ACTIVITY_CONCURRENCY (activities at once)
  --orchestration-concurrency N    DURABLE_ORCHESTRATION_CONCURRENCY
  --cache-size N                   DURABLE_CACHE_SIZE (default 10000 replayed instances kept in memory)
  --tubes kind|function            DURABLE_TUBES (Beanstalkd: a tube per kind, or per activity and entity type)
  --serves orchestrations,entities,activities   DURABLE_SERVES (default all three)
  --functions NAME,NAME            DURABLE_FUNCTIONS (only these activities and entity types; needs --tubes function)
  --activity-lease-ms N            DURABLE_ACTIVITY_LEASE_MS (default 60000; renewed while the activity runs)
  --turn-timeout-ms N              DURABLE_TURN_TIMEOUT_MS (default 10000; a dead worker's instances wait this long)
  --max-deliveries N               DURABLE_MAX_DELIVERIES (default 10; then a message that keeps crashing is dead-lettered)
  --ops-host ADDR  --ops-port N    DURABLE_OPS_HOST, DURABLE_OPS_PORT (default 0.0.0.0:9464): /metrics /healthz /readyz
  --api-host ADDR  --api-port N    DURABLE_API_HOST, DURABLE_API_PORT (off by default; host 0.0.0.0): the HTTP API
  --tokens-file FILE               DURABLE_TOKENS_FILE: the API's scoped tokens (JSON: name, scopes, sha256); with
                                   DURABLE_TOKEN (admin). The API needs tokens unless it listens on loopback
                                   DURABLE_ALLOWED_HOSTS: host names accepted on a loopback API besides localhost
  --drain-timeout-ms N             DURABLE_DRAIN_TIMEOUT_MS (default 30000)
  --log-level debug|info|warn|error   DURABLE_LOG_LEVEL`;

export interface WorkerInvocation {
  readonly config: DurableConfig;
  readonly settings: WorkerSettings & { readonly app: string };
  readonly help: boolean;
  /** The HTTP API, when DURABLE_API_PORT (or --api-port) asks for it. */
  readonly api: WorkerApiSettings | undefined;
}

/** Where the worker serves the HTTP API, and with which tokens. */
export interface WorkerApiSettings {
  readonly host: string;
  readonly port: number;
  readonly auth: AuthOptions | undefined;
  readonly allowedHosts: readonly string[];
}

/**
 * The worker's optional HTTP API, from DURABLE_API_PORT / DURABLE_API_HOST / DURABLE_TOKEN / DURABLE_TOKENS_FILE /
 * DURABLE_ALLOWED_HOSTS. Undefined when no port is set. A non-loopback address without any token is refused.
 * @example
 * parseWorkerApi({ DURABLE_API_PORT: '8080', DURABLE_TOKENS_FILE: '/etc/durable/tokens.json' });
 */
export function parseWorkerApi(env: Record<string, string | undefined>): WorkerApiSettings | undefined {
  const rawPort = env.DURABLE_API_PORT;
  if (rawPort === undefined || rawPort === '') return undefined;
  const port = Number(rawPort);
  if (!/^[0-9]+$/.test(rawPort) || port > 65535) {
    throw new ValidationError(`DURABLE_API_PORT must be a port number 0-65535 (got '${rawPort.slice(0, 40)}').`);
  }
  const host = env.DURABLE_API_HOST || '0.0.0.0';
  const auth = authFromEnvironment({ token: env.DURABLE_TOKEN, tokensFile: env.DURABLE_TOKENS_FILE });
  if (!auth && authRequiredFor(host)) {
    throw new ValidationError(
      `The HTTP API on ${host} (not loopback) needs tokens: set DURABLE_TOKENS_FILE (durable token create) or DURABLE_TOKEN.`,
    );
  }
  return { host, port, auth, allowedHosts: parseAllowedHosts(env.DURABLE_ALLOWED_HOSTS) };
}

/**
 * @example
 * const { config, settings } = parseWorkerArgs(['examples/app.ts', '--lock', 'sqlite'], process.env);
 */
export function parseWorkerArgs(argv: readonly string[], env: Record<string, string | undefined>): WorkerInvocation {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      backend: { type: 'string' },
      'sqlite-path': { type: 'string' },
      'queue-url': { type: 'string' },
      durability: { type: 'string' },
      lock: { type: 'string' },
      concurrency: { type: 'string' },
      'orchestration-concurrency': { type: 'string' },
      'cache-size': { type: 'string' },
      serves: { type: 'string' },
      tubes: { type: 'string' },
      functions: { type: 'string' },
      'activity-lease-ms': { type: 'string' },
      'turn-timeout-ms': { type: 'string' },
      'max-deliveries': { type: 'string' },
      'ops-host': { type: 'string' },
      'ops-port': { type: 'string' },
      'drain-timeout-ms': { type: 'string' },
      'api-host': { type: 'string' },
      'api-port': { type: 'string' },
      'tokens-file': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (positionals.length > 1) throw new ValidationError(`Unexpected arguments: ${positionals.slice(1).join(' ')}.`);
  // Flags become the matching variables, so one parser (with its error messages) validates both.
  const fromFlags: Record<string, string | undefined> = {
    DURABLE_BACKEND: values.backend,
    DURABLE_SQLITE_PATH: values['sqlite-path'],
    DURABLE_QUEUE_URL: values['queue-url'],
    DURABLE_DURABILITY: values.durability,
    DURABLE_LOCK: values.lock,
    DURABLE_ACTIVITY_CONCURRENCY: values.concurrency,
    DURABLE_ORCHESTRATION_CONCURRENCY: values['orchestration-concurrency'],
    DURABLE_CACHE_SIZE: values['cache-size'],
    DURABLE_TUBES: values.tubes,
    DURABLE_FUNCTIONS: values.functions,
    DURABLE_ACTIVITY_LEASE_MS: values['activity-lease-ms'],
    DURABLE_TURN_TIMEOUT_MS: values['turn-timeout-ms'],
    DURABLE_MAX_DELIVERIES: values['max-deliveries'],
    DURABLE_OPS_HOST: values['ops-host'],
    DURABLE_OPS_PORT: values['ops-port'],
    DURABLE_DRAIN_TIMEOUT_MS: values['drain-timeout-ms'],
    DURABLE_API_HOST: values['api-host'],
    DURABLE_API_PORT: values['api-port'],
    DURABLE_TOKENS_FILE: values['tokens-file'],
    DURABLE_LOG_LEVEL: values['log-level'],
  };
  const merged = { ...env };
  for (const [name, value] of Object.entries(fromFlags)) if (value !== undefined) merged[name] = value;
  const settings = loadWorkerSettings(merged, {
    ...(positionals[0] !== undefined ? { app: positionals[0] } : {}),
    ...(values.serves !== undefined ? { serves: parseWorkQueues(values.serves, '--serves') } : {}),
  });
  const help = values.help === true;
  if (settings.app === undefined && !help) {
    throw new ValidationError('Name the app module: durable worker <app module> (or set DURABLE_APP).');
  }
  const api = help ? undefined : parseWorkerApi(merged);
  return { config: loadConfig(merged), settings: { ...settings, app: settings.app ?? '' }, help, api };
}
