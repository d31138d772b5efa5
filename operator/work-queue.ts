/**
 * The operator's rate-limited work queue: client-go's `workqueue.RateLimitingInterface` with its per-item
 * exponential failure rate limiter, as controller-runtime drives it.
 *
 * WHAT IS IN IT
 * - Keys, not events: a reconcile is level-based, so a key added any number of times while it waits runs once.
 * - One run per key at a time: a key added while it is being handled is marked dirty and runs once more after the
 *   current run, never alongside it (two reconciles of one resource at once would race each other's writes).
 * - A handler that throws is retried after `baseDelayMs * 2^failures`, capped at `maxDelayMs`; a run that succeeds
 *   forgets the key's failures. A handler that returns `{ requeueAfterMs }` is run again after that delay.
 * - At most `concurrency` handlers at once, ready keys taken first in, first out.
 *
 * WHAT IS DELIBERATELY NOT
 * - No overall rate limit (client-go's token bucket next to the per-item one): the API server's 429s and the
 *   per-key back-off bound the load a failing reconcile makes, and a fleet of healthy keys should not wait.
 * - Nothing durable: the informers' initial list re-adds every key after a restart.
 */
import { SystemClock, type Clock } from '../src/backends/clock.js';

/** What a handler may ask for: nothing (done until the next add) or another run after a delay. */
export type WorkQueueResult = void | { readonly requeueAfterMs: number };

export type WorkQueueHandler = (key: string) => Promise<WorkQueueResult>;

export interface WorkQueueOptions {
  /** Handlers running at once (at least 1). */
  readonly concurrency: number;
  /** The first retry's delay; each further failure of the key doubles it. Default 5 ms (client-go's). */
  readonly baseDelayMs?: number;
  /** The longest retry delay. Default 300 000 ms (client-go's 1000 s is long for an operator users watch). */
  readonly maxDelayMs?: number;
  /** Waits for delayed adds and retries. Default the wall clock. */
  readonly clock?: Clock;
  /** Told of every failed run and the delay before its retry (for logs and metrics); must not throw. */
  readonly onError?: (key: string, error: unknown, delayMs: number) => void;
}

interface DelayedAdd {
  readonly readyAt: number;
  readonly cancel: AbortController;
}

/**
 * @example
 * const queue = new WorkQueue((key) => reconcile(key), { concurrency: 4, onError: (key, e, ms) => log(key, e, ms) });
 * informer.on('update', (obj) => queue.add(`${obj.metadata.namespace}/${obj.metadata.name}`));
 * process.on('SIGTERM', () => void queue.stop());
 */
export class WorkQueue {
  private readonly concurrency: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly clock: Clock;
  /** Keys ready to run and not running, in the order they became ready (a Set keeps insertion order). */
  private readonly ready = new Set<string>();
  private readonly running = new Set<string>();
  /** Keys added while running: each goes back to `ready` when its run ends. */
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, DelayedAdd>();
  private readonly failures = new Map<string, number>();
  private readonly runs = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly handler: WorkQueueHandler,
    private readonly options: WorkQueueOptions,
  ) {
    this.concurrency = options.concurrency;
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
    this.clock = options.clock ?? new SystemClock();
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${this.concurrency}`);
    }
    if (!(this.baseDelayMs > 0 && this.maxDelayMs >= this.baseDelayMs)) {
      throw new RangeError(
        `baseDelayMs (${this.baseDelayMs}) must be positive and no more than maxDelayMs (${this.maxDelayMs})`,
      );
    }
  }

  /** Keys waiting to run: ready ones, and running ones added again (each will run once more). */
  get depth(): number {
    return this.ready.size + this.dirty.size;
  }

  /** Handlers running now. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Keys waiting for a delay (a retry's back-off or a requeue) before they become ready. */
  get waitingForDelay(): number {
    return this.delayed.size;
  }

  /** Failed runs of `key` since its last success (client-go's `NumRequeues`). */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Forgets the failures of `key`: its next failure is retried after `baseDelayMs` again. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Queues `key` to run; nothing if it is already waiting. After {@link stop}, ignored. */
  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) this.dirty.add(key);
    else this.ready.add(key);
    this.pump();
  }

  /**
   * Queues `key` after `ms`. Of two delayed adds of one key the earlier wins (a key waits for one timer, as in
   * client-go's delaying queue); a delayed add does not cancel an immediate one.
   */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const readyAt = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.readyAt <= readyAt) return;
    pending?.cancel.abort();
    const cancel = new AbortController();
    this.delayed.set(key, { readyAt, cancel });
    void this.clock.sleep(ms, cancel.signal).then(() => {
      if (cancel.signal.aborted) return;
      this.delayed.delete(key);
      this.add(key);
    });
  }

  /** Starts no more handlers and clears every delayed add; resolves when the handlers running now have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { cancel } of this.delayed.values()) cancel.abort();
    this.delayed.clear();
    this.ready.clear();
    this.dirty.clear();
    await Promise.all(this.runs);
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency) {
      const key = this.ready.values().next();
      if (key.done) return;
      this.ready.delete(key.value);
      this.start(key.value);
    }
  }

  private start(key: string): void {
    this.running.add(key);
    // The handler starts on a later microtask, so one that calls add() synchronously does not re-enter pump().
    const run: Promise<void> = Promise.resolve()
      .then(() => this.handler(key))
      .then(
        (result) => this.succeeded(key, result),
        (error: unknown) => this.failed(key, error),
      )
      .finally(() => {
        this.running.delete(key);
        this.runs.delete(run);
        if (this.dirty.delete(key)) this.ready.add(key);
        this.pump();
      });
    this.runs.add(run);
  }

  private succeeded(key: string, result: WorkQueueResult): void {
    this.forget(key);
    if (result && result.requeueAfterMs >= 0) this.addAfter(key, result.requeueAfterMs);
  }

  private failed(key: string, error: unknown): void {
    const failures = this.retries(key);
    const delayMs = Math.min(this.baseDelayMs * 2 ** failures, this.maxDelayMs);
    this.failures.set(key, failures + 1);
    try {
      this.options.onError?.(key, error, delayMs);
    } catch {
      // A logging hook that throws must not lose the retry.
    }
    this.addAfter(key, delayMs);
  }
}
