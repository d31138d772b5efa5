/**
 * The SQLite lock: the lock contract on one local file, shared by every process that opens it.
 *
 * One row per key (`locks`: key, owner, expires_at on the injected clock). A key is held by `owner` while
 * `now < expires_at`; an expired row is simply free and is overwritten by the next acquire, so nothing sweeps.
 * Each operation is one conditional statement, atomic across processes. Like every lock it is an efficiency
 * device only: the store's compare-and-set is what keeps a paused worker from committing.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../clock.js';
import type { Lock, LockAcquisition } from '../lock.js';
import type { DatabaseSource, SqliteDatabase } from './sqlite-database.js';
import { asPromise, holdDatabase, writeTransaction } from './sqlite-database.js';

export interface SqliteLockOptions {
  readonly database: DatabaseSource;
  /** Expiry is judged on this clock; every process sharing the file must use the same time base. */
  readonly clock: Clock;
}

/**
 * A {@link Lock} in a SQLite file, with expiry judged on an injected {@link Clock}.
 * @example
 * const lock = new SqliteLock({ database: { path: 'durable.db' }, clock: new SystemClock() });
 * if (await lock.acquire('instance:42', 'worker-1', 30_000)) {
 *   try { await runTurn(); } finally { await lock.release('instance:42', 'worker-1'); }
 * }
 */
export class SqliteLock implements Lock {
  /** Rows outlive processes: every process sharing the file can vouch for every release made in it. */
  readonly epoch = 'sqlite';
  private readonly database: SqliteDatabase;
  private readonly releaseDatabase: () => void;
  private readonly clock: Clock;
  private readonly statements: ReturnType<typeof prepare>;
  private readonly acquireTx: (key: string, owner: string, now: number, expiresAt: number) => LockAcquisition;
  private readonly acquireManyTx: (
    keys: readonly string[],
    owner: string,
    now: number,
    expiresAt: number,
  ) => LockAcquisition[];
  private readonly releaseManyTx: (keys: readonly string[], owner: string) => void;

  constructor(options: SqliteLockOptions) {
    this.clock = options.clock;
    ({ database: this.database, release: this.releaseDatabase } = holdDatabase(options.database));
    this.statements = prepare(this.database.connection);
    this.acquireTx = writeTransaction(
      this.database.connection,
      (key: string, owner: string, now: number, expiresAt: number): LockAcquisition => {
        const row = this.statements.holder.get(key) as { owner: string; expires_at: number } | undefined;
        if (row && row.owner !== owner && row.expires_at > now) return false;
        this.statements.upsert.run({ key, owner, expiresAt });
        return row ? 'taken-over' : 'clean';
      },
    );
    // Nested in the batch's transaction, `acquireTx` runs as a savepoint: the whole batch is one write.
    this.acquireManyTx = writeTransaction(
      this.database.connection,
      (keys: readonly string[], owner: string, now: number, expiresAt: number): LockAcquisition[] =>
        keys.map((key) => this.acquireTx(key, owner, now, expiresAt)),
    );
    this.releaseManyTx = writeTransaction(this.database.connection, (keys: readonly string[], owner: string): void => {
      for (const key of keys) this.statements.release.run(key, owner);
    });
  }

  /** Every key in one IMMEDIATE transaction (one write, one fsync), each decided as `acquire` decides it. */
  acquireMany(keys: readonly string[], owner: string, ttlMs: number): Promise<LockAcquisition[]> {
    return asPromise(() => {
      checkTtl('acquireMany', ttlMs);
      const now = this.clock.now();
      return this.acquireManyTx(keys, owner, now, now + ttlMs);
    });
  }

  releaseMany(keys: readonly string[], owner: string): Promise<void> {
    return asPromise(() => this.releaseManyTx(keys, owner));
  }

  acquire(key: string, owner: string, ttlMs: number): Promise<LockAcquisition> {
    return asPromise(() => {
      checkTtl('acquire', ttlMs);
      const now = this.clock.now();
      // Free, expired, or ours already (then this is a renewal). Released rows are deleted, so a row that is
      // still there is a hold that never ended cleanly. Read and write in one IMMEDIATE transaction: atomic
      // across the processes sharing the file.
      return this.acquireTx(key, owner, now, now + ttlMs);
    });
  }

  renew(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return asPromise(() => {
      checkTtl('renew', ttlMs);
      const now = this.clock.now();
      // Only a lock still held: once the TTL has passed the owner has lost it, even if nobody took it since.
      return this.statements.renew.run({ key, owner, expiresAt: now + ttlMs, now }).changes === 1;
    });
  }

  release(key: string, owner: string): Promise<void> {
    return asPromise(() => {
      // Only the owner's row (even an expired one, which is free anyway); never someone else's.
      this.statements.release.run(key, owner);
    });
  }

  /** Gives back this adapter's reference to the database (a second close does nothing). */
  close(): Promise<void> {
    return asPromise(() => this.releaseDatabase());
  }
}

function prepare(db: Database.Database) {
  return {
    holder: db.prepare('SELECT owner, expires_at FROM locks WHERE key = ?'),
    upsert: db.prepare(
      `INSERT INTO locks (key, owner, expires_at) VALUES (@key, @owner, @expiresAt)
       ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
    ),
    renew: db.prepare(
      `UPDATE locks SET expires_at = @expiresAt WHERE key = @key AND owner = @owner AND expires_at > @now`,
    ),
    release: db.prepare('DELETE FROM locks WHERE key = ? AND owner = ?'),
  };
}

function checkTtl(operation: string, ttlMs: number): void {
  if (!(Number.isFinite(ttlMs) && ttlMs > 0)) {
    throw new Error(`Lock ${operation}: ttlMs must be a positive finite number, got ${ttlMs}.`);
  }
}
