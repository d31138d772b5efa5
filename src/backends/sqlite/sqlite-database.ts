/**
 * The SQLite database file shared by {@link SqliteStore}, {@link SqliteQueue} and {@link SqliteLock}.
 *
 * One file holds everything, so a single machine needs no server: several processes open the same file and
 * coordinate through SQLite's own locking (WAL journal, `busy_timeout`).
 *
 * TABLES (schema version 1)
 * - `records`: one row per instance (orchestration or entity), the store's documents. The record is kept whole
 *   as JSON (`record`) because the store contract reads and writes it as one document; `version` is a column
 *   so that compare-and-set is one conditional statement, and `kind`, `name`, `status`, `created_at` are copied
 *   out of the JSON only so that `list` can filter and sort on indexes.
 * - `history_chunks`: immutable pieces of history keyed (instance_id, incarnation, generation, from_index; the
 *   incarnation since schema version 3), the events as JSON. Separate from `records` so that a turn rewrites only the small record, never the whole history.
 * - `messages`: both queues. `seq` (autoincrement, never reused) is the send order ("oldest first"); `state`
 *   is where the message is (ready, delayed, reserved, dead) so that the next messages to deliver are a walk
 *   of one index instead of a scan; `visible_at` is when a delayed message becomes visible or when a
 *   reservation expires; `receipt` names the latest reservation; `dead_seq` orders the dead letters.
 * - `records.stuck` (schema version 4): 1 when the record has a `stuck` note, with a partial index on those rows;
 *   and `records_by_name_status`, so that counts by status of one name read one index.
 * - `claims` (schema version 2): claim-check bodies by key, for queues with a message size limit.
 * - `locks`: one row per held (or expired, not yet overwritten) lock key: owner and expiry on the lock clock.
 *
 * SHARING AND CLOSING
 * A {@link SqliteDatabase} is one connection. The adapters may share it (the usual case: one connection per
 * process; every statement is synchronous, so they never interleave inside a transaction) or each open the path
 * themselves (`{ database: { path } }`). A shared handle is reference-counted: `open` returns it with the
 * opener's reference, every adapter built on it takes one more, and the connection closes when the last one is
 * given back. So the rule is simply "close what you opened or built", each exactly once or more.
 *
 * Waiting for a lock held by another process (`busy_timeout`) blocks this process's event loop: better-sqlite3 is
 * synchronous. Write transactions are short (milliseconds), so the wait is too; all of them begin IMMEDIATE, so a
 * writer never upgrades a read snapshot (which SQLite would refuse with SQLITE_BUSY_SNAPSHOT, without waiting).
 */
import Database from 'better-sqlite3';

/**
 * - `full` (default): `synchronous = FULL`; a commit that resolved survives power loss (one fsync per commit).
 * - `normal`: `synchronous = NORMAL`; a commit survives a crash of the process, not of the machine (the WAL is
 *   fsynced at checkpoints only). Much faster on disks with slow fsync.
 */
export type Durability = 'full' | 'normal';

export interface SqliteDatabaseOptions {
  /** The database file; created if missing. */
  readonly path: string;
  readonly durability?: Durability;
  /** How long to wait for another process's write lock before failing with SQLITE_BUSY (default 5000 ms). */
  readonly busyTimeoutMs?: number;
}

/** The schema version this code writes and understands. Files at a lower version are migrated on open. */
export const SCHEMA_VERSION = 4;

/**
 * The migrations, in order: `MIGRATIONS[n]` takes a file from version `n` to `n + 1`. Never edit a released step
 * (files in the field were made by it); add a step and bump {@link SCHEMA_VERSION}.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE records (
    instance_id TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    record      TEXT NOT NULL
  );
  CREATE INDEX records_by_kind ON records (kind, created_at DESC, instance_id DESC);
  CREATE INDEX records_by_name ON records (kind, name, created_at DESC, instance_id DESC);
  CREATE INDEX records_by_status ON records (kind, status, created_at DESC, instance_id DESC);

  CREATE TABLE history_chunks (
    instance_id TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    from_index  INTEGER NOT NULL,
    events      TEXT NOT NULL,
    PRIMARY KEY (instance_id, generation, from_index)
  );

  CREATE TABLE messages (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    priority    REAL NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('ready', 'delayed', 'reserved', 'dead')),
    visible_at  REAL NOT NULL,
    receipt     TEXT,
    attempt     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    dead_reason TEXT,
    dead_seq    INTEGER
  );
  CREATE INDEX messages_ready ON messages (queue, state, priority, seq);
  CREATE INDEX messages_timed ON messages (queue, state, visible_at);
  CREATE UNIQUE INDEX messages_receipt ON messages (receipt) WHERE receipt IS NOT NULL;
  CREATE INDEX messages_dead ON messages (queue, dead_seq) WHERE state = 'dead';

  CREATE TABLE locks (
    key        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at REAL NOT NULL
  );
  `,
  // 1 → 2: claim checks (bodies too large for a queue such as beanstalkd, kept while their message is in transit).
  `
  CREATE TABLE claims (
    key  TEXT PRIMARY KEY,
    body TEXT NOT NULL
  );
  `,
  // 2 → 3: history chunks are keyed by incarnation too, so chunks of a purged creation of an id are never read by
  // the next one. Chunks written before have the empty incarnation, as do the records that point at them.
  `
  CREATE TABLE history_chunks_v3 (
    instance_id TEXT NOT NULL,
    incarnation TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    from_index  INTEGER NOT NULL,
    events      TEXT NOT NULL,
    PRIMARY KEY (instance_id, incarnation, generation, from_index)
  );
  INSERT INTO history_chunks_v3 (instance_id, incarnation, generation, from_index, events)
    SELECT instance_id, '', generation, from_index, events FROM history_chunks;
  DROP TABLE history_chunks;
  ALTER TABLE history_chunks_v3 RENAME TO history_chunks;
  `,
  // 3 → 4: whether a record is stuck, as a column (1/0) so that listing and counting stuck instances reads neither
  // the JSON nor every row: a partial index holds only the stuck ones (normally none). And counts by status of one
  // orchestration name from an index alone (records_by_name has no status).
  `
  ALTER TABLE records ADD COLUMN stuck INTEGER NOT NULL DEFAULT 0;
  UPDATE records SET stuck = 1 WHERE json_extract(record, '$.stuck') IS NOT NULL;
  CREATE INDEX records_stuck ON records (kind, created_at DESC, instance_id DESC) WHERE stuck = 1;
  CREATE INDEX records_by_name_status ON records (kind, name, status, created_at DESC, instance_id DESC);
  `,
];

/**
 * Opening a file whose schema is newer than this code: refused, so old code never writes into a newer layout.
 * @example
 * try { SqliteDatabase.open({ path }); } catch (e) { if (e instanceof SqliteSchemaError) console.error(e.message); }
 */
export class SqliteSchemaError extends Error {
  readonly path: string;
  readonly fileVersion: number;
  constructor(path: string, fileVersion: number) {
    super(
      `SQLite database ${path} has schema version ${fileVersion}, but this version of Durable knows versions up to ` +
        `${SCHEMA_VERSION}. Upgrade Durable to open it; the file was not modified.`,
    );
    this.name = 'SqliteSchemaError';
    this.path = path;
    this.fileVersion = fileVersion;
  }
}

/**
 * One connection to a Durable SQLite file, reference-counted so that several adapters can share it.
 * @example
 * const database = SqliteDatabase.open({ path: 'durable.db', durability: 'full' });
 * const store = new SqliteStore({ database });
 * const queue = new SqliteQueue({ database, clock: new SystemClock() });
 * const lock = new SqliteLock({ database, clock: new SystemClock() });
 * database.close(); // the adapters keep the connection open until each of them is closed too
 */
export class SqliteDatabase {
  /** The better-sqlite3 connection. Adapters prepare their statements on it once. */
  readonly connection: Database.Database;
  readonly path: string;
  readonly durability: Durability;
  /** The opener's reference plus one per adapter still holding the handle; the connection closes at 0. */
  private references = 1;
  private openerClosed = false;

  private constructor(connection: Database.Database, path: string, durability: Durability) {
    this.connection = connection;
    this.path = path;
    this.durability = durability;
  }

  /**
   * Opens (creating if needed) and migrates the file. Safe to call from several processes at once: the
   * migration runs in an IMMEDIATE transaction that re-reads the version, so exactly one process migrates.
   * @throws {SqliteSchemaError} if the file's schema is newer than {@link SCHEMA_VERSION}.
   * @example
   * const database = SqliteDatabase.open({ path: '/var/lib/durable/durable.db', durability: 'normal' });
   */
  static open(options: SqliteDatabaseOptions): SqliteDatabase {
    const durability = options.durability ?? 'full';
    if (durability !== 'full' && durability !== 'normal') {
      throw new Error(`SQLite durability must be 'full' or 'normal', got '${String(durability)}'.`);
    }
    const connection = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
    try {
      // Checked before anything else touches the file (even the journal mode): a newer file stays as it was.
      const found = userVersion(connection);
      if (found > SCHEMA_VERSION) throw new SqliteSchemaError(options.path, found);
      connection.pragma('journal_mode = WAL');
      connection.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
      migrate(connection, options.path);
    } catch (error) {
      connection.close();
      throw error;
    }
    return new SqliteDatabase(connection, options.path, durability);
  }

  /** The schema version recorded in the file (`PRAGMA user_version`). */
  schemaVersion(): number {
    return userVersion(this.connection);
  }

  /**
   * Takes a reference for an adapter; the returned function gives it back (once: calling it again does nothing,
   * so an adapter closed twice never releases someone else's reference).
   */
  retain(): () => void {
    if (this.references === 0) throw new Error(`SQLite database ${this.path} is already closed.`);
    this.references += 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.unreference();
    };
  }

  /**
   * Gives back the reference `open` returned; the connection closes once the adapters built on it are closed
   * too. Extra calls are no-ops.
   */
  close(): void {
    if (this.openerClosed) return;
    this.openerClosed = true;
    this.unreference();
  }

  private unreference(): void {
    this.references -= 1;
    if (this.references === 0) this.connection.close();
  }
}

/** A reference to a database held by one adapter, and the function that gives it back. */
export interface DatabaseLease {
  readonly database: SqliteDatabase;
  readonly release: () => void;
}

/** What an adapter's options may name: a shared handle (retained) or a file to open for the adapter alone. */
export type DatabaseSource = SqliteDatabase | SqliteDatabaseOptions;

/**
 * The handle an adapter uses: a shared one (one more reference), or a file opened for the adapter alone.
 * @example
 * const { database, release } = holdDatabase(options.database); // in an adapter's constructor
 * // … and in its close(): release();
 */
export function holdDatabase(source: DatabaseSource): DatabaseLease {
  if (source instanceof SqliteDatabase) return { database: source, release: source.retain() };
  const database = SqliteDatabase.open(source);
  return { database, release: () => database.close() };
}

/**
 * Runs a synchronous database step as an async operation: a throw becomes a rejection, never a synchronous throw.
 * @example
 * get(id: string): Promise<Row | undefined> { return asPromise(() => statement.get(id) as Row | undefined); }
 */
export function asPromise<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * Wraps `body` in a write transaction that begins IMMEDIATE: it takes the write lock (waiting up to the busy
 * timeout) before reading anything, so it never has to upgrade a read snapshot, which SQLite refuses at once.
 * @example
 * const move = writeTransaction(connection, (from: string, to: string) => { debit.run(from); credit.run(to); });
 * move('a', 'b'); // both statements or neither
 */
export function writeTransaction<A extends unknown[], R>(
  connection: Database.Database,
  body: (...args: A) => R,
): (...args: A) => R {
  const run = connection.transaction(body);
  return (...args: A) => run.immediate(...args);
}

function userVersion(connection: Database.Database): number {
  return connection.pragma('user_version', { simple: true }) as number;
}

/** Brings the file to {@link SCHEMA_VERSION}, one step at a time, all in one transaction. */
function migrate(connection: Database.Database, path: string): void {
  const run = connection.transaction(() => {
    // Re-read under the write lock: another process may have migrated since this one looked.
    const from = userVersion(connection);
    if (from > SCHEMA_VERSION) throw new SqliteSchemaError(path, from);
    for (let version = from; version < SCHEMA_VERSION; version++) connection.exec(MIGRATIONS[version] as string);
    if (from !== SCHEMA_VERSION) connection.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  if (userVersion(connection) !== SCHEMA_VERSION) run.immediate();
}
