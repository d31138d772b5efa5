/**
 * Lost starts. A client creates an instance's record (status Pending) and then sends its start message; a client
 * that dies in between leaves a record nothing will ever start. The sweeper finds Pending records older than
 * `ageMs` and sends their start again. The start message is deterministic, so an instance whose start was not lost
 * (it is only slow to arrive) drops the second copy.
 *
 * A start that is not lost but keeps crashing workers (a poison message, on its way to the dead-letter queue) must
 * not get a twin that shares its fate: the age is many turn timeouts (a crash loop dead-letters its message well
 * within it), and a record already marked stuck (its start was dead-lettered) is left to the operator.
 *
 * One sweep per interval in the whole cluster: a sweep first takes a lock (`sweep/pending-starts`) for the interval,
 * and a worker that does not get it skips its turn.
 */
import type { Clock } from '../backends/clock.js';
import type { Lock } from '../backends/lock.js';
import type { Queue } from '../backends/queue.js';
import type { Store } from '../backends/store.js';
import { pendingStartMessage } from '../backends/store.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { Logger } from '../observability/logger.js';

export interface PendingSweeperOptions {
  readonly store: Store;
  readonly queue: Queue;
  readonly lock: Lock;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly owner: string;
  /** A Pending record older than this has lost its start; also the time between sweeps. */
  readonly ageMs: number;
  /** Records looked at per sweep, at most (the oldest are not favoured: a sweep is newest first, like `list`). */
  readonly limit?: number;
}

/** Runs sweeps every `ageMs` until `signal` aborts. Never throws: a failed sweep is logged and tried next time. */
export async function sweepPendingStarts(options: PendingSweeperOptions, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await options.clock.sleep(options.ageMs, signal).catch(() => undefined);
    if (signal.aborted) return;
    try {
      await sweepOnce(options);
    } catch (error) {
      options.logger.warn({ event: LOG_EVENTS.startsResent, error: String(error) });
    }
  }
}

/** One sweep: the start of every Pending record created more than `ageMs` ago is sent again. */
export async function sweepOnce(options: PendingSweeperOptions): Promise<number> {
  const { store, queue, lock, clock, ageMs } = options;
  if ((await lock.acquire('sweep/pending-starts', options.owner, ageMs)) === false) return 0;
  let sent = 0;
  let cursor: string | undefined;
  do {
    const page = await store.list({
      statuses: ['Pending'],
      createdTo: clock.now() - ageMs,
      limit: 100,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    const starts = page.items.filter((record) => record.stuck === undefined).map(pendingStartMessage);
    if (starts.length > 0) await queue.send(starts);
    sent += starts.length;
    cursor = page.nextCursor;
  } while (cursor !== undefined && sent < (options.limit ?? 1000));
  if (sent > 0) options.logger.warn({ event: LOG_EVENTS.startsResent, messages: sent });
  return sent;
}
