/**
 * `durable migrate`: prepares the configured store (and lock) before any worker starts, with the same environment
 * variables as `durable worker`. On RethinkDB it creates the database, tables and indexes that are missing, with the
 * configured shards and replicas, and waits until every replica is ready; on SQLite it creates the file or brings
 * its schema to the current version. Running it again changes nothing. Workers do the same at start, so this is
 * for deployments that want it done (and checked) once, e.g. in a Helm pre-install hook or an init container.
 */
import { SystemClock } from '../backends/clock.js';
import { loadConfig } from '../config/config.js';
import { openBackends } from '../host/backends.js';
import { CliError } from '../host/cli-error.js';

/** Prepares the store and lock named by `env`, and returns one line saying what is ready. */
export async function migrate(env: NodeJS.ProcessEnv): Promise<{ store: string; lock: string; summary: string }> {
  const config = loadConfig(env);
  // The queue is not prepared here (Beanstalkd has no schema): leave it out, so a missing queue does not fail this.
  const local = { ...config, beanstalkd: undefined };
  let backends;
  try {
    backends = await openBackends(local, new SystemClock());
  } catch (error) {
    throw new CliError(`migrate: ${error instanceof Error ? error.message : String(error)}`);
  }
  await backends.close();
  const rethinkdb = config.rethinkdb;
  const store = rethinkdb
    ? `RethinkDB database '${rethinkdb.db}' at ${rethinkdb.host}:${rethinkdb.port} (${rethinkdb.shards} shard(s), ${rethinkdb.replicas} replica(s))`
    : config.backend === 'memory'
      ? 'memory (nothing to prepare)'
      : `SQLite file ${config.sqlite.path}`;
  const lock = config.lock === 'rethinkdb' ? 'RethinkDB' : config.lock;
  return { store, lock, summary: `Ready: store ${store}, lock ${lock}.` };
}
