/**
 * Durable's tables on RethinkDB, created idempotently at start and waited on until ready.
 *
 * | table | primary key | secondary indexes |
 * |---|---|---|
 * | `records` | {@link documentKey} of the instance id | `list_kind` [kind, createdAt, instanceId], `list_name` [kind, name, createdAt, instanceId], `list_status` [kind, status, createdAt, instanceId] |
 * | `history_chunks` | a hash of (instanceId, incarnation, generation, fromIndex) | `chunk` [instanceId, incarnation, generation, fromIndex] |
 * | `claims` | {@link documentKey} of the claim key | none |
 * | `locks` | {@link documentKey} of the lock key | none |
 *
 * RethinkDB limits a primary key to 127 bytes, and instance ids may have 200 characters (entity ids more), so keys
 * are the id itself up to 100 bytes and a hash beyond ({@link documentKey}); documents keep the full id beside it.
 * Chunks are found through their compound secondary index (index keys have no such limit: the server compares
 * truncated keys against the documents), and their primary key is a hash of the same four fields, so a chunk
 * written twice lands on the same document.
 *
 * Several processes may start at once: every create tolerates "already exists", duplicates that concurrent creates
 * made are dropped (the same survivor everywhere), and the start waits for the indexes (`indexWait`) and the tables
 * (`wait`) to be ready on all their replicas.
 */
import { createHash } from 'node:crypto';
import type { Reql, RethinkdbConnectionOptions } from './rethinkdb-connection.js';
import { RethinkdbPool } from './rethinkdb-connection.js';

export interface TableSettings {
  /** Shards per table. Default 1. */
  readonly shards?: number;
  /** Replicas per shard (at most the number of servers). Default 1. */
  readonly replicas?: number;
}

interface IndexSpec {
  readonly name: string;
  readonly fields: readonly string[];
}

interface TableSpec {
  readonly name: string;
  readonly indexes: readonly IndexSpec[];
}

export const STORE_TABLES: readonly TableSpec[] = [
  {
    name: 'records',
    indexes: [
      { name: 'list_kind', fields: ['kind', 'createdAt', 'instanceId'] },
      { name: 'list_name', fields: ['kind', 'name', 'createdAt', 'instanceId'] },
      { name: 'list_status', fields: ['kind', 'status', 'createdAt', 'instanceId'] },
    ],
  },
  {
    name: 'history_chunks',
    indexes: [{ name: 'chunk', fields: ['instanceId', 'incarnation', 'generation', 'fromIndex'] }],
  },
  { name: 'claims', indexes: [] },
];

export const LOCK_TABLES: readonly TableSpec[] = [{ name: 'locks', indexes: [] }];

/**
 * Schema operations may take longer than queries (a table on 3 replicas needs its replicas elected), and a worker
 * starting beside its server waits for it: six query timeouts (60 s by default).
 */
const SCHEMA_TIMEOUTS = 6;

/**
 * Opens a pool on `options` with `tables` ready (created where missing): what every RethinkDB adapter starts with. A
 * pool whose tables could not be made ready is closed again.
 */
export async function openWithTables(
  options: RethinkdbConnectionOptions & TableSettings,
  tables: readonly TableSpec[],
): Promise<RethinkdbPool> {
  const pool = await RethinkdbPool.open(options);
  try {
    await ensureTables(pool, tables, options);
  } catch (error) {
    await pool.close();
    throw error;
  }
  return pool;
}

/**
 * Creates the database, the tables and their indexes where missing, then waits until all are ready.
 * @example
 * await ensureTables(pool, STORE_TABLES, { replicas: 3 });
 */
export async function ensureTables(
  pool: RethinkdbPool,
  tables: readonly TableSpec[],
  settings: TableSettings = {},
): Promise<void> {
  // A process that started at the same time may still create a duplicate after this one's pass found none (it
  // listed the tables before they existed): a query then fails as "ambiguous", and the whole ensure runs again,
  // dropping the duplicate.
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureOnce(pool, tables, settings);
      return;
    } catch (error) {
      if (attempt >= 10 || !/ambiguous/.test(error instanceof Error ? error.message : String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

async function ensureOnce(pool: RethinkdbPool, tables: readonly TableSpec[], settings: TableSettings): Promise<void> {
  const run = <T>(build: (r: Reql, db: Reql) => Reql): Promise<T> =>
    pool.run<T>(build, {}, SCHEMA_TIMEOUTS * pool.timeoutMs);
  // RethinkDB does not serialise `dbCreate`/`tableCreate`: processes creating the same name at once get two
  // databases or tables of that name, and every query on it fails as "ambiguous". So each pass creates what is
  // missing, then drops duplicates, keeping the one with the smallest id (every process keeps the same one); passes
  // repeat until one changes nothing.
  for (let pass = 0; ; pass++) {
    let changed = false;
    if (!(await run<string[]>((r) => r.dbList())).includes(pool.db)) {
      changed = (await tolerateExists(run((r) => r.dbCreate(pool.db)))) || changed;
    }
    changed = (await dropDuplicates(run, 'db_config', { name: pool.db })) || changed;
    const existing = await run<string[]>((_, db) => db.tableList());
    for (const table of tables) {
      if (existing.includes(table.name)) continue;
      const options = { primaryKey: 'id', shards: settings.shards ?? 1, replicas: settings.replicas ?? 1 };
      changed = (await tolerateExists(run((_, db) => db.tableCreate(table.name, options)))) || changed;
    }
    for (const table of tables) {
      changed = (await dropDuplicates(run, 'table_config', { db: pool.db, name: table.name })) || changed;
    }
    if (!changed) break;
    if (pass >= 10) throw new Error(`RethinkDB schema of ${pool.db} did not settle after ${pass} passes.`);
  }
  for (const table of tables) {
    const indexes = await run<string[]>((_, db) => db.table(table.name).indexList());
    for (const index of table.indexes) {
      if (indexes.includes(index.name)) continue;
      await tolerateExists(
        run((_, db) =>
          db.table(table.name).indexCreate(index.name, (row: Reql) => index.fields.map((field) => row(field))),
        ),
      );
    }
    await run((_, db) => db.table(table.name).indexWait());
    await run((_, db) => db.table(table.name).wait({ waitFor: 'all_replicas_ready' }));
  }
}

/**
 * Drops all but one of the databases or tables matching `match` in a system table (`db_config`, `table_config`),
 * keeping the smallest id. Returns whether it dropped any.
 */
async function dropDuplicates(
  run: <T>(build: (r: Reql, db: Reql) => Reql) => Promise<T>,
  systemTable: 'db_config' | 'table_config',
  match: Record<string, string>,
): Promise<boolean> {
  const ids = await run<string[]>((r) => r.db('rethinkdb').table(systemTable).filter(match)('id').coerceTo('array'));
  if (ids.length <= 1) return false;
  for (const id of [...ids].sort().slice(1)) {
    await run((r) => r.db('rethinkdb').table(systemTable).get(id).delete());
  }
  return true;
}

/** Another process may have created it first: that is success. Returns whether this call created it. */
async function tolerateExists(creation: Promise<unknown>): Promise<boolean> {
  try {
    await creation;
    return true;
  } catch (error) {
    if (!/already exists/.test(error instanceof Error ? error.message : String(error))) throw error;
    return false;
  }
}

/** Longest id used as its own key: shorter than RethinkDB's 127-byte primary key limit. */
const MAX_LITERAL_KEY_BYTES = 100;

/**
 * The primary key of an id: the id itself when it fits in 100 bytes, otherwise `~` and a SHA-256 (hex) of it, padded
 * with `~` to 105 bytes. A hashed key is always longer than 100 bytes, so it never equals a literal one.
 * @example
 * documentKey('order-7'); // 'order-7'
 */
export function documentKey(id: string): string {
  if (Buffer.byteLength(id, 'utf8') <= MAX_LITERAL_KEY_BYTES) return id;
  const hash = createHash('sha256').update(id, 'utf8').digest('hex');
  return `~${hash}`.padEnd(MAX_LITERAL_KEY_BYTES + 5, '~');
}

/** The primary key of a history chunk: a hash of its four key fields, the same for every write of it. */
export function chunkKey(instanceId: string, incarnation: string, generation: number, fromIndex: number): string {
  return createHash('sha256')
    .update(JSON.stringify([instanceId, incarnation, generation, fromIndex]), 'utf8')
    .digest('hex');
}
