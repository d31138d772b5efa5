/**
 * Optional capability: one atomic write for a whole batch.
 *
 * WHAT IT IS
 * When a backend keeps the store and the queue in one transactional database (SQLite), a batch's commits, the
 * messages they send and the acknowledgements of the messages they consumed can be ONE transaction: one fsync
 * for everything a batch does, and no window between commit and send at all.
 *
 * WHAT IT IS NOT
 * - Required. Without it the runtime does the same in three writes (commitMany, send, settle), which is what the
 *   contracts alone guarantee to be safe. Nothing may rely on the atomicity this adds.
 * - A way around compare-and-set: each commit is still decided on its record's version, independently.
 */
import type { Message } from '../engine/messages.js';
import type { Delivery, Release } from './queue.js';
import type { CasResult, TurnCommit } from './store.js';

export interface QueueWrites {
  readonly send: readonly Message[];
  readonly ack: readonly Delivery[];
  readonly release: readonly Release[];
}

export interface GroupCommit {
  /**
   * Commits `commits` and, in the same transaction, performs the queue writes `then` derives from their results.
   * Resolves with the results once everything is durable.
   */
  commit(commits: readonly TurnCommit[], then: (results: readonly CasResult[]) => QueueWrites): Promise<CasResult[]>;
  /** Sends and settles in one transaction. */
  write(writes: QueueWrites): Promise<void>;
}
