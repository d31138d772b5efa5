/**
 * Configuration: every backend choice, path and setting in one place, from environment variables (and, for the
 * CLI, flags passed as overrides). The embedded default needs none of them: SQLite in `.durable/durable.db`.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `DURABLE_BACKEND` | `sqlite` or `memory` (store and queue) | `sqlite` |
 * | `DURABLE_SQLITE_PATH` | the database file | `.durable/durable.db` |
 * | `DURABLE_DURABILITY` | `full` (a commit survives power loss) or `normal` (survives a process crash) | `full` |
 * | `DURABLE_LOCK` | `memory` (one process) or `sqlite` (several processes share the file) | `memory` |
 * | `DURABLE_ACTIVITY_CONCURRENCY` | activities running at once | `16` |
 */
import { ValidationError } from '../engine/errors.js';

export type BackendKind = 'sqlite' | 'memory';
export type LockKind = 'memory' | 'sqlite';
export type DurabilitySetting = 'full' | 'normal';

export interface DurableConfig {
  readonly backend: BackendKind;
  readonly lock: LockKind;
  readonly sqlite: { readonly path: string; readonly durability: DurabilitySetting };
  readonly activityConcurrency: number;
}

export type ConfigOverrides = Partial<{
  backend: BackendKind;
  lock: LockKind;
  sqlitePath: string;
  durability: DurabilitySetting;
  activityConcurrency: number;
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
  return {
    backend,
    lock: overrides.lock ?? oneOf<LockKind>(env, 'DURABLE_LOCK', ['memory', 'sqlite'], 'memory'),
    sqlite: {
      path: overrides.sqlitePath ?? nonEmpty(env, 'DURABLE_SQLITE_PATH', '.durable/durable.db'),
      durability:
        overrides.durability ?? oneOf<DurabilitySetting>(env, 'DURABLE_DURABILITY', ['full', 'normal'], 'full'),
    },
    activityConcurrency: overrides.activityConcurrency ?? positiveInt(env, 'DURABLE_ACTIVITY_CONCURRENCY', 16),
  };
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

function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new ValidationError(`${name} must be a positive integer (got '${value}').`, { variable: name, value });
  }
  return n;
}
