/**
 * The group-commit capability for SQLite: the store's and the queue's writes of one batch in one transaction
 * (their own transactions nest as savepoints), so a batch costs one fsync.
 */
import type { GroupCommit, QueueWrites } from '../group-commit.js';
import type { CasResult, TurnCommit } from '../store.js';
import type { SqliteDatabase } from './sqlite-database.js';
import { asPromise, writeTransaction } from './sqlite-database.js';
import type { SqliteQueue } from './sqlite-queue.js';
import type { SqliteStore } from './sqlite-store.js';

/**
 * @example
 * const groupCommit = new SqliteGroupCommit(database, store, queue); // all three on one database
 * await groupCommit.commit(commits, (results) => ({ send, ack, release }));
 */
export class SqliteGroupCommit implements GroupCommit {
  private readonly run: (
    commits: readonly TurnCommit[],
    then: (results: readonly CasResult[]) => QueueWrites,
  ) => CasResult[];
  private readonly runWrites: (writes: QueueWrites) => void;

  constructor(
    database: SqliteDatabase,
    private readonly store: SqliteStore,
    private readonly queue: SqliteQueue,
  ) {
    this.run = writeTransaction(database.connection, (commits, then) => {
      const results = this.store.commitManyNow(commits);
      this.apply(then(results));
      return results;
    });
    this.runWrites = writeTransaction(database.connection, (writes: QueueWrites) => this.apply(writes));
  }

  commit(commits: readonly TurnCommit[], then: (results: readonly CasResult[]) => QueueWrites): Promise<CasResult[]> {
    return asPromise(() => this.run(commits, then));
  }

  write(writes: QueueWrites): Promise<void> {
    return asPromise(() => this.runWrites(writes));
  }

  private apply(writes: QueueWrites): void {
    if (writes.send.length > 0) this.queue.sendNow(writes.send);
    if (writes.ack.length > 0 || writes.release.length > 0)
      this.queue.settleNow({ ack: writes.ack, release: writes.release });
  }
}
