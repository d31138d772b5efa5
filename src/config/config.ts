/**
 * Configuration: every backend choice, path and setting in one place, from environment variables (and, for the
 * CLI, flags passed as overrides). The embedded default needs none of them: SQLite in `.durable/durable.db`.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `DURABLE_BACKEND` | `sqlite` or `memory` (store and queue) | `sqlite` |
 * | `DURABLE_SQLITE_PATH` | the database file | `.durable/durable.db` |
 * | `DURABLE_DURABILITY` | `full` (a commit survives power loss) or `normal` (survives a process crash) | `full` |
 * | `DURABLE_LOCK` | `memory` (one process), `sqlite` (several processes share the file), `rethinkdb` (needs `DURABLE_STORE_URL`) or `kubernetes` (partition Leases; needs Beanstalkd and `DURABLE_PARTITIONS`) | `memory` |
 * | `DURABLE_ACTIVITY_CONCURRENCY` | activities running at once | `16` |
 * | `DURABLE_CACHE_SIZE` | replayed instances a worker keeps in memory (a turn of a cached instance replays nothing) | `10000` |
 * | `DURABLE_QUEUE_URL` | `beanstalkd://host:port`: the queue on Beanstalkd (the store stays as configured) | none |
 * | `DURABLE_NAMESPACE` | Beanstalkd tube prefix | `durable` |
 * | `DURABLE_TUBES` | Beanstalkd tubes per `kind`, or per `function` for activities and entities | `kind` |
 * | `DURABLE_TURN_TIMEOUT_MS` | how long a turn may hold its instances' locks and messages: how soon the instances of a worker that died mid-turn move again | `10000` |
 * | `DURABLE_ACTIVITY_LEASE_MS` | how long a running activity's reservation lasts; a live worker renews it every third of it (a heartbeat), so this is how soon a dead worker's activity runs again | `60000` |
 * | `DURABLE_STORE_URL` | `rethinkdb://user:password@host:28015/db`: the store on RethinkDB (the queue stays as configured) | none |
 * | `DURABLE_RETHINKDB_CA` | path of a PEM CA certificate: connect to RethinkDB over TLS, checking the server against it | none |
 * | `DURABLE_RETHINKDB_REPLICAS` | replicas per table shard, when the tables are created | `1` |
 * | `DURABLE_RETHINKDB_SHARDS` | shards per table, when the tables are created | `1` |
 * | `DURABLE_RETHINKDB_TIMEOUT_MS` | how long any RethinkDB query may take before it fails (and the runtime backs off) | `10000` |
 * | `DURABLE_PARTITIONS` | Beanstalkd orchestration and entity tubes split into this many partitions (1–1024); every process of a deployment, clients too, must agree. Required by `DURABLE_LOCK=kubernetes` | none (not split) |
 * | `DURABLE_KUBERNETES_NAMESPACE` | where the partition Leases live | the pod's namespace in a cluster, else `default` |
 * | `DURABLE_LEASE_DURATION_MS` | a partition Lease's duration: how soon another worker takes over a dead worker's partitions | `15000` |
 * | `DURABLE_LEASE_RENEW_MS` | how often a worker renews its Leases (under half the duration) | `5000` |
 * | `POD_NAME` | the worker's name in its Leases' `holderIdentity` (with a per-boot id); set it from the downward API | the host name |
 * | `DURABLE_POOL` | the worker pool (set by the operator, e.g. `workflow.shop`): a label on the worker's member Lease, so deleting the pool removes it | none |
 *
 * `durable worker` reads its process settings with {@link loadWorkerSettings}, kept apart from the backend
 * configuration so that a new backend (a queue URL, a store URL) is one change here and needs none in `worker/`:
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `DURABLE_APP` | the app module (or the first argument of `durable worker`) | none |
 * | `DURABLE_OPS_HOST` | address of the ops server (`/metrics`, `/healthz`, `/readyz`) | `0.0.0.0` |
 * | `DURABLE_OPS_PORT` | its port (`0`: any free port) | `9464` |
 * | `DURABLE_DRAIN_TIMEOUT_MS` | how long a SIGTERM drain may take before the process exits 1 | `30000` |
 * | `DURABLE_SERVES` | the kinds of work this worker takes: `orchestrations`, `entities`, `activities` (comma-separated; serving orchestrations without entities, or the reverse, needs Beanstalkd) | all three |
 * | `DURABLE_FUNCTIONS` | only these activities and entity types (comma-separated names; needs `DURABLE_TUBES=function`) | all of the app's |
 * | `DURABLE_ORCHESTRATION_CONCURRENCY` | instances whose turns run at once | `16` |
 * | `DURABLE_MAX_DELIVERIES` | deliveries of a message (its runs keep crashing or timing out workers) before it is dead-lettered | `10` |
 * | `DURABLE_LOG_LEVEL` | `debug`, `info`, `warn` or `error` | `info` |
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ValidationError } from '../engine/errors.js';

export type BackendKind = 'sqlite' | 'memory';
export type LockKind = 'memory' | 'sqlite' | 'rethinkdb' | 'kubernetes';
export type DurabilitySetting = 'full' | 'normal';

export interface DurableConfig {
  readonly backend: BackendKind;
  readonly lock: LockKind;
  readonly sqlite: { readonly path: string; readonly durability: DurabilitySetting };
  readonly activityConcurrency: number;
  /** Replayed instances a worker keeps in memory. */
  readonly cacheSize: number;
  /** A running activity's reservation; renewed every third of it while the activity runs. */
  readonly activityLeaseMs: number;
  /** A turn's hold on its instances' locks and messages. */
  readonly turnTimeoutMs: number;
  /** Set by `DURABLE_QUEUE_URL=beanstalkd://host:port`: the queue lives on Beanstalkd, the store stays as configured. */
  readonly beanstalkd?: {
    readonly host: string;
    readonly port: number;
    readonly namespace: string;
    readonly tubes: 'kind' | 'function';
    /** Orchestration and entity tubes split into this many partitions (0: not split). */
    readonly partitions: number;
  };
  /** Set by `DURABLE_LOCK=kubernetes`: instances are locked by holding their partition's Lease. */
  readonly kubernetes?: KubernetesLockSettings;
  /** Set by `DURABLE_STORE_URL=rethinkdb://…`: the store (and, with `DURABLE_LOCK=rethinkdb`, the lock) on RethinkDB. */
  readonly rethinkdb?: RethinkdbSettings;
}

export interface KubernetesLockSettings {
  /** The namespace of the partition Leases. */
  readonly namespace: string;
  readonly partitions: number;
  readonly leaseDurationMs: number;
  readonly renewIntervalMs: number;
  /** `holderIdentity` before the per-boot id: the pod's name. */
  readonly podName: string;
  /** The worker pool (`DURABLE_POOL`, set by the operator): labels the member Leases, so its finalizer finds them. */
  readonly pool?: string;
}

export interface RethinkdbSettings {
  readonly host: string;
  readonly port: number;
  readonly db: string;
  readonly user?: string;
  readonly password?: string;
  /** A PEM file: TLS, with the server's certificate checked against this CA. */
  readonly caPath?: string;
  readonly replicas: number;
  readonly shards: number;
  readonly timeoutMs: number;
}

export type ConfigOverrides = Partial<{
  backend: BackendKind;
  lock: LockKind;
  sqlitePath: string;
  durability: DurabilitySetting;
  activityConcurrency: number;
  cacheSize: number;
  activityLeaseMs: number;
  turnTimeoutMs: number;
}>;

/**
 * Reads the configuration. Bad values throw a `ValidationError` naming the variable and the accepted values.
 * @example
 * const config = loadConfig(process.env, { durability: 'normal' });
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: ConfigOverrides = {},
): DurableConfig {
  const backend = overrides.backend ?? oneOf<BackendKind>(env, 'DURABLE_BACKEND', ['sqlite', 'memory'], 'sqlite');
  const lock =
    overrides.lock ?? oneOf<LockKind>(env, 'DURABLE_LOCK', ['memory', 'sqlite', 'rethinkdb', 'kubernetes'], 'memory');
  const rethinkdb = rethinkdbStore(env);
  const queue = beanstalkdQueue(env);
  if (lock === 'rethinkdb' && rethinkdb.rethinkdb === undefined) {
    throw new ValidationError('DURABLE_LOCK=rethinkdb needs DURABLE_STORE_URL=rethinkdb://host:28015/db.', {
      variable: 'DURABLE_LOCK',
    });
  }
  return {
    backend,
    lock,
    sqlite: {
      path: overrides.sqlitePath ?? nonEmpty(env, 'DURABLE_SQLITE_PATH', '.durable/durable.db'),
      durability:
        overrides.durability ?? oneOf<DurabilitySetting>(env, 'DURABLE_DURABILITY', ['full', 'normal'], 'full'),
    },
    activityConcurrency: overrides.activityConcurrency ?? positiveInt(env, 'DURABLE_ACTIVITY_CONCURRENCY', 16),
    cacheSize: overrides.cacheSize ?? positiveInt(env, 'DURABLE_CACHE_SIZE', 10_000),
    activityLeaseMs: overrides.activityLeaseMs ?? positiveInt(env, 'DURABLE_ACTIVITY_LEASE_MS', 60_000),
    turnTimeoutMs: overrides.turnTimeoutMs ?? positiveInt(env, 'DURABLE_TURN_TIMEOUT_MS', 10_000),
    ...queue,
    ...rethinkdb,
    ...(lock === 'kubernetes' ? { kubernetes: kubernetesLock(env, queue.beanstalkd) } : {}),
  };
}

/** The most partitions (backends/partitions.ts says the same; config may not import backends). */
const MAX_PARTITIONS = 1024;

/** The service account's namespace file in a pod. */
const POD_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** `DURABLE_LOCK=kubernetes`: partition Leases, which only Beanstalkd's partitioned tubes can route for. */
function kubernetesLock(
  env: Record<string, string | undefined>,
  beanstalkd: DurableConfig['beanstalkd'],
): KubernetesLockSettings {
  if (beanstalkd === undefined || beanstalkd.partitions === 0) {
    throw new ValidationError(
      'DURABLE_LOCK=kubernetes needs DURABLE_QUEUE_URL=beanstalkd://host:11300 and DURABLE_PARTITIONS (e.g. 64, the ' +
        'same in every process of the deployment, clients too): a worker holds partitions, and takes only their tubes.',
      { variable: 'DURABLE_LOCK' },
    );
  }
  const leaseDurationMs = positiveInt(env, 'DURABLE_LEASE_DURATION_MS', 15_000);
  const renewIntervalMs = positiveInt(env, 'DURABLE_LEASE_RENEW_MS', 5_000);
  if (renewIntervalMs * 2 >= leaseDurationMs) {
    throw new ValidationError(
      `DURABLE_LEASE_RENEW_MS (${renewIntervalMs}) must be under half of DURABLE_LEASE_DURATION_MS (${leaseDurationMs}).`,
      { variable: 'DURABLE_LEASE_RENEW_MS' },
    );
  }
  const namespace = env.DURABLE_KUBERNETES_NAMESPACE || podNamespace() || 'default';
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new ValidationError(
      `DURABLE_KUBERNETES_NAMESPACE must be a Kubernetes namespace name (got '${namespace}').`,
      {
        variable: 'DURABLE_KUBERNETES_NAMESPACE',
      },
    );
  }
  return {
    namespace,
    partitions: beanstalkd.partitions,
    leaseDurationMs,
    renewIntervalMs,
    podName: env.POD_NAME || hostname(),
    ...(env.DURABLE_POOL ? { pool: labelValue(env, 'DURABLE_POOL') } : {}),
  };
}

/** A Kubernetes label value: at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends. */
function labelValue(env: Record<string, string | undefined>, variable: string): string {
  const value = env[variable] ?? '';
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(value)) {
    throw new ValidationError(`${variable} must be a Kubernetes label value (got '${value}').`, { variable });
  }
  return value;
}

function podNamespace(): string | undefined {
  try {
    return readFileSync(POD_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `DURABLE_STORE_URL=rethinkdb://user:password@host:28015/db` (user, password, port and database optional: `admin`
 * with no password, 28015, `durable`), with the `DURABLE_RETHINKDB_*` settings.
 */
function rethinkdbStore(env: Record<string, string | undefined>): Pick<DurableConfig, 'rethinkdb'> {
  const value = env.DURABLE_STORE_URL;
  if (value === undefined || value === '') return {};
  const invalid = (): ValidationError =>
    new ValidationError(`DURABLE_STORE_URL must look like rethinkdb://user:password@host:28015/db (got '${value}').`, {
      variable: 'DURABLE_STORE_URL',
    });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid();
  }
  if (url.protocol !== 'rethinkdb:' || url.hostname === '') throw invalid();
  const db = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'durable';
  // RethinkDB's rule for database names.
  if (!/^[A-Za-z0-9_]+$/.test(db)) throw invalid();
  const caPath = env.DURABLE_RETHINKDB_CA;
  return {
    rethinkdb: {
      host: url.hostname,
      port: url.port === '' ? 28015 : Number(url.port),
      db,
      ...(url.username !== '' ? { user: decodeURIComponent(url.username) } : {}),
      ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
      ...(caPath !== undefined && caPath !== '' ? { caPath } : {}),
      replicas: positiveInt(env, 'DURABLE_RETHINKDB_REPLICAS', 1),
      shards: boundedInt(env, 'DURABLE_RETHINKDB_SHARDS', 1, 64),
      timeoutMs: positiveInt(env, 'DURABLE_RETHINKDB_TIMEOUT_MS', 10_000),
    },
  };
}

/** `DURABLE_QUEUE_URL=beanstalkd://host:port` (and `DURABLE_NAMESPACE`, the tube prefix, default `durable`). */
function beanstalkdQueue(env: Record<string, string | undefined>): Pick<DurableConfig, 'beanstalkd'> {
  const value = env.DURABLE_QUEUE_URL;
  if (value === undefined || value === '') return {};
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(`DURABLE_QUEUE_URL must look like beanstalkd://host:11300 (got '${value}').`, { value });
  }
  if (url.protocol !== 'beanstalkd:' || url.hostname === '') {
    throw new ValidationError(`DURABLE_QUEUE_URL must look like beanstalkd://host:11300 (got '${value}').`, { value });
  }
  const port = url.port === '' ? 11300 : Number(url.port);
  const namespace = nonEmpty(env, 'DURABLE_NAMESPACE', 'durable');
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(namespace)) {
    throw new ValidationError(`DURABLE_NAMESPACE must be letters, digits, _ or - (got '${namespace}').`, { namespace });
  }
  const tubes = oneOf<'kind' | 'function'>(env, 'DURABLE_TUBES', ['kind', 'function'], 'kind');
  const partitions = env.DURABLE_PARTITIONS ? boundedInt(env, 'DURABLE_PARTITIONS', 0, MAX_PARTITIONS) : 0;
  return { beanstalkd: { host: url.hostname, port, namespace, tubes, partitions } };
}

/** A kind of work a worker takes. */
export type WorkQueue = 'orchestrations' | 'entities' | 'activities';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What a `durable worker` process needs beyond the backends ({@link DurableConfig}). */
export interface WorkerSettings {
  /** The app module; undefined when neither the argument nor `DURABLE_APP` names one. */
  readonly app: string | undefined;
  readonly opsHost: string;
  readonly opsPort: number;
  readonly drainTimeoutMs: number;
  /** Never empty; without duplicates. */
  readonly serves: readonly WorkQueue[];
  /** Only these activities and entity types (undefined: all of the app's). */
  readonly functions: readonly string[] | undefined;
  readonly orchestrationConcurrency: number;
  /** Deliveries of a message before it is dead-lettered as poison. */
  readonly maxDeliveries: number;
  readonly logLevel: LogLevel;
}

export type WorkerSettingsOverrides = Partial<{
  app: string;
  opsHost: string;
  opsPort: number;
  drainTimeoutMs: number;
  serves: readonly WorkQueue[];
  functions: readonly string[];
  orchestrationConcurrency: number;
  maxDeliveries: number;
  logLevel: LogLevel;
}>;

/**
 * Reads the settings of a `durable worker` process. Bad values throw a `ValidationError` naming the variable.
 * @example
 * const settings = loadWorkerSettings(process.env, { app: 'examples/app.ts', opsPort: 0 });
 */
export function loadWorkerSettings(
  env: Record<string, string | undefined> = process.env,
  overrides: WorkerSettingsOverrides = {},
): WorkerSettings {
  const app = overrides.app ?? env.DURABLE_APP;
  return {
    app: app === '' ? undefined : app,
    opsHost: overrides.opsHost ?? nonEmpty(env, 'DURABLE_OPS_HOST', '0.0.0.0'),
    opsPort: overrides.opsPort ?? port(env, 'DURABLE_OPS_PORT', 9464),
    drainTimeoutMs: overrides.drainTimeoutMs ?? drainTimeoutMs(env),
    serves: overrides.serves ?? workQueues(env, 'DURABLE_SERVES'),
    functions: overrides.functions ?? names(env, 'DURABLE_FUNCTIONS'),
    orchestrationConcurrency:
      overrides.orchestrationConcurrency ?? positiveInt(env, 'DURABLE_ORCHESTRATION_CONCURRENCY', 16),
    maxDeliveries: overrides.maxDeliveries ?? positiveInt(env, 'DURABLE_MAX_DELIVERIES', 10),
    logLevel:
      overrides.logLevel ?? oneOf<LogLevel>(env, 'DURABLE_LOG_LEVEL', ['debug', 'info', 'warn', 'error'], 'info'),
  };
}

/**
 * Parses a comma-separated list of kinds of work (`orchestrations,entities,activities`).
 * @example
 * parseWorkQueues('orchestrations', '--serves'); // ['orchestrations']
 */
/**
 * How long a drain (SIGTERM, or Ctrl-C in `durable dev`) may take before the process exits 1: `DURABLE_DRAIN_TIMEOUT_MS`.
 * @example
 * const deadlineMs = drainTimeoutMs(process.env); // 30000 when unset
 */
export function drainTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  return positiveInt(env, 'DURABLE_DRAIN_TIMEOUT_MS', 30_000);
}

export function parseWorkQueues(value: string, name: string): WorkQueue[] {
  const allowed: readonly WorkQueue[] = ['orchestrations', 'entities', 'activities'];
  const items = [...new Set(value.split(',').map((v) => v.trim()))].filter((v) => v !== '');
  const bad = items.filter((v) => !(allowed as readonly string[]).includes(v));
  if (items.length === 0 || bad.length > 0) {
    throw new ValidationError(`${name} must list one or more of ${allowed.join(', ')} (got '${value}').`, {
      variable: name,
      value,
    });
  }
  return items as WorkQueue[];
}

function workQueues(env: Record<string, string | undefined>, name: string): WorkQueue[] {
  const value = env[name];
  return value === undefined || value === ''
    ? ['orchestrations', 'entities', 'activities']
    : parseWorkQueues(value, name);
}

/** A comma-separated list of function names, or undefined when the variable is unset or empty. */
function names(env: Record<string, string | undefined>, name: string): string[] | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === '') return undefined;
  return [...new Set(value.split(',').map((v) => v.trim()))].filter((v) => v !== '');
}

function port(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ValidationError(`${name} must be a port, 0-65535 (got '${value}').`, { variable: name, value });
  }
  return n;
}

function oneOf<T extends string>(
  env: Record<string, string | undefined>,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(`${name} must be one of ${allowed.join(', ')} (got '${value}').`, {
      variable: name,
      value,
    });
  }
  return value as T;
}

function nonEmpty(env: Record<string, string | undefined>, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** An integer from 1 to `max` (RethinkDB allows at most 64 shards per table). */
function boundedInt(env: Record<string, string | undefined>, name: string, fallback: number, max: number): number {
  const n = positiveInt(env, name, fallback);
  if (n > max) {
    throw new ValidationError(`${name} must be at most ${max} (got '${n}').`, { variable: name, value: env[name] });
  }
  return n;
}

function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new ValidationError(`${name} must be a positive integer (got '${value}').`, { variable: name, value });
  }
  return n;
}
