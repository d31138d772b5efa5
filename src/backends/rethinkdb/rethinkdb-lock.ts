/**
 * The RethinkDB lock: the lock contract on a `locks` table, one document per key (`id`, `owner`, `expiresAt` in
 * epoch ms). Released keys have no document; a document that is still there is a hold that never ended cleanly.
 *
 * Each operation is one atomic single-document `replace` (`get(key).replace(row => r.branch(...))`): the server
 * decides on the document as it stands, so two workers racing for a key cannot both win.
 *
 * **Whose clock.** In production expiry is judged on the **server's** clock (`r.now()`, fixed for the duration of
 * a query), so worker clocks do not matter; with several servers the primary of the key's shard judges. A test
 * may pass a `clock`: its time is then sent as a literal in every query, so a ManualClock drives expiry exactly as
 * it does for the other adapters (the conformance suite runs that way). Like every lock this one is an efficiency
 * device only: the store's compare-and-set is what keeps a paused worker from committing.
 */
import type { Clock } from '../clock.js';
import type { Lock, LockAcquisition } from '../lock.js';
import type { Reql, RethinkdbConnectionOptions, RethinkdbPool } from './rethinkdb-connection.js';
import { RethinkdbError } from './rethinkdb-connection.js';
import type { TableSettings } from './rethinkdb-schema.js';
import { LOCK_TABLES, documentKey, openWithTables } from './rethinkdb-schema.js';

export interface RethinkdbLockOptions extends RethinkdbConnectionOptions, TableSettings {
  /** Tests only: judge expiry on this clock instead of the server's (`r.now()`). */
  readonly clock?: Clock;
}

interface LockDoc {
  readonly id: string;
  readonly key: string;
  readonly owner: string;
  readonly expiresAt: number;
}

interface WriteResult {
  readonly errors: number;
  readonly first_error?: string;
  readonly skipped: number;
  readonly changes?: readonly { readonly old_val: LockDoc | null; readonly new_val: LockDoc | null }[];
}

const HARD = { durability: 'hard' } as const;
const LOST = 'lost';

/**
 * A {@link Lock} in a RethinkDB table, expiry judged on the server's clock.
 * @example
 * const lock = await RethinkdbLock.open({ host: '127.0.0.1', port: 28015, db: 'durable' });
 * if (await lock.acquire('instance:42', 'worker-1', 30_000)) {
 *   try { await runTurn(); } finally { await lock.release('instance:42', 'worker-1'); }
 * }
 */
export class RethinkdbLock implements Lock {
  /** Documents outlive processes: every process on the database can vouch for every release made in it. */
  readonly epoch: string;

  private constructor(
    private readonly pool: RethinkdbPool,
    private readonly clock: Clock | undefined,
  ) {
    this.epoch = `rethinkdb:${pool.db}`;
  }

  /** Connects, creates the `locks` table if missing, and waits until it is ready. */
  static async open(options: RethinkdbLockOptions): Promise<RethinkdbLock> {
    return new RethinkdbLock(await openWithTables(options, LOCK_TABLES), options.clock);
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<LockAcquisition> {
    checkTtl('acquire', ttlMs);
    const id = documentKey(key);
    const result = await this.pool.run<WriteResult>((r, db) => {
      const now = this.now(r);
      const held = { id, key, owner, expiresAt: now.add(ttlMs) };
      // Free (no document), expired, or ours already (then this renews): take it. Held by another: unchanged.
      return db
        .table('locks')
        .get(id)
        .replace(
          (row: Reql) => r.branch(row.eq(null), held, row('owner').ne(owner).and(row('expiresAt').gt(now)), row, held),
          { ...HARD, returnChanges: 'always' },
        );
    }, HARD);
    if (result.errors > 0) throw new RethinkdbError(`Lock acquire failed: ${result.first_error}`);
    const change = result.changes?.[0];
    if (change === undefined) throw new RethinkdbError('Lock acquire returned no change.');
    if (change.new_val?.owner !== owner) return false;
    return change.old_val === null ? 'clean' : 'taken-over';
  }

  /**
   * Every key in one `insert` whose conflict function keeps a document held by someone else and replaces any other
   * (expired, or ours): one write for the batch, each document decided on its own. A new document is `'clean'`, a
   * replaced one `'taken-over'`, a kept one `false`.
   */
  async acquireMany(keys: readonly string[], owner: string, ttlMs: number): Promise<LockAcquisition[]> {
    checkTtl('acquireMany', ttlMs);
    if (keys.length === 0) return [];
    const docs = keys.map((key) => ({ id: documentKey(key), key, owner }));
    const result = await this.pool.run<WriteResult>((r, db) => {
      const now = this.now(r);
      return db.table('locks').insert(
        r.expr(docs).map((doc: Reql) => doc.merge({ expiresAt: now.add(ttlMs) })),
        {
          ...HARD,
          returnChanges: 'always',
          conflict: (_id: Reql, old: Reql, wanted: Reql) =>
            r.branch(old('owner').ne(owner).and(old('expiresAt').gt(now)), old, wanted),
        },
      );
    }, HARD);
    if (result.errors > 0) throw new RethinkdbError(`Lock acquireMany failed: ${result.first_error}`);
    // The server reports changes in its own order: match them to the keys by document id.
    const byId = new Map<string, LockAcquisition>();
    for (const change of result.changes ?? []) {
      const doc = change.new_val ?? change.old_val;
      if (doc === null) continue;
      byId.set(doc.id, change.new_val?.owner !== owner ? false : change.old_val === null ? 'clean' : 'taken-over');
    }
    return docs.map((doc) => {
      const acquisition = byId.get(doc.id);
      if (acquisition === undefined) throw new RethinkdbError(`Lock acquireMany returned no change for ${doc.key}.`);
      return acquisition;
    });
  }

  async renew(key: string, owner: string, ttlMs: number): Promise<boolean> {
    checkTtl('renew', ttlMs);
    // Only a lock still held: once the TTL has passed the owner has lost it, even if nobody took it since.
    const result = await this.pool.run<WriteResult>((r, db) => {
      const now = this.now(r);
      return db
        .table('locks')
        .get(documentKey(key))
        .replace(
          (row: Reql) =>
            r.branch(
              row.ne(null).and(row('owner').eq(owner)).and(row('expiresAt').gt(now)),
              row.merge({ expiresAt: now.add(ttlMs) }),
              r.error(LOST),
            ),
          HARD,
        );
    }, HARD);
    if (result.errors > 0 && result.first_error !== LOST) {
      throw new RethinkdbError(`Lock renew failed: ${result.first_error}`);
    }
    return result.errors === 0;
  }

  async release(key: string, owner: string): Promise<void> {
    // Only the owner's document (even an expired one, which is free anyway); never someone else's.
    const result = await this.pool.run<WriteResult>(
      (r, db) =>
        db
          .table('locks')
          .get(documentKey(key))
          .replace((row: Reql) => r.branch(row.ne(null).and(row('owner').eq(owner)), null, row), HARD),
      HARD,
    );
    if (result.errors > 0) throw new RethinkdbError(`Lock release failed: ${result.first_error}`);
  }

  /**
   * Deletes the documents of `keys` that `owner` holds, in one query. Soft durability: a release lost to a server
   * crash leaves the hold to expire, and the next acquire says 'taken-over', which only costs a re-sent outbox.
   */
  async releaseMany(keys: readonly string[], owner: string): Promise<void> {
    if (keys.length === 0) return;
    const soft = { durability: 'soft' } as const;
    const result = await this.pool.run<WriteResult>(
      (_r, db) =>
        db
          .table('locks')
          .getAll(...keys.map(documentKey))
          .filter({ owner })
          .delete(soft),
      soft,
    );
    if (result.errors > 0) throw new RethinkdbError(`Lock releaseMany failed: ${result.first_error}`);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** The time expiry is judged on, as a query term in epoch ms: the server's, or the injected clock's. */
  private now(r: Reql): Reql {
    return this.clock !== undefined ? r.expr(this.clock.now()) : r.now().toEpochTime().mul(1000);
  }
}

function checkTtl(operation: string, ttlMs: number): void {
  if (!(Number.isFinite(ttlMs) && ttlMs > 0)) {
    throw new Error(`Lock ${operation}: ttlMs must be a positive finite number, got ${ttlMs}.`);
  }
}
